"""Narrative sections are Markdown, rendered to sanitised HTML (no scripts, no styles)."""

import re

import markdown as markdown_lib
import nh3

# A list item: "- x", "* x", "+ x", "1. x" or "1) x", indented by at most three spaces.
LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+\S")
FENCE = re.compile(r"^ {0,3}(```|~~~)")

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "b",
    "i",
    "ul",
    "ol",
    "li",
    "a",
    "code",
    "pre",
    "blockquote",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
}


def render_markdown(text: str) -> str:
    """Markdown to HTML that is safe to show to anyone."""
    if not text:
        return ""
    html = markdown_lib.markdown(lists_after_paragraphs(text), extensions=["tables", "sane_lists"])
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def lists_after_paragraphs(text: str) -> str:
    """A blank line before a list that starts right under a paragraph line.

    People type "Channels:" and then "- phone" on the next line, as the editor's hint says;
    Python-Markdown (like the original Markdown) then reads the items as the paragraph's
    text. CommonMark and every editor people know make it a list, so do that here. Lines in
    fenced or indented code, and items already inside a list, are left alone."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    result: list[str] = []
    in_fence = False
    in_list = False
    for line in lines:
        if FENCE.match(line):
            in_fence = not in_fence
        if in_fence:
            result.append(line)
            continue
        previous = result[-1] if result else ""
        if not line.strip():
            in_list = False
        elif LIST_ITEM.match(line):
            if previous.strip() and not in_list and not previous.startswith(("    ", "\t")):
                result.append("")
            in_list = True
        result.append(line)
    return "\n".join(result)
