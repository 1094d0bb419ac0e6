"""The OpenSLO import form: upload a file or paste its YAML."""

from __future__ import annotations

from django import forms

from agreements.openslo.loading import MAX_BYTES


class OpenSLOImportForm(forms.Form):
    file = forms.FileField(
        required=False,
        label="OpenSLO or Sloth file",
        help_text="YAML, one or many documents (at most 1 MB).",
        widget=forms.ClearableFileInput(attrs={"accept": ".yaml,.yml,application/yaml,text/yaml"}),
    )
    yaml = forms.CharField(
        required=False,
        label="Or paste the YAML",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "class": "font-monospace", "spellcheck": "false"}),
    )
    filename = forms.CharField(required=False, widget=forms.HiddenInput, max_length=100)

    def clean(self) -> dict:
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            data["text"] = upload.read(MAX_BYTES + 1)
            data["filename"] = str(upload.name)[:100]
        elif data.get("yaml", "").strip():
            data["text"] = data["yaml"]
        else:
            raise forms.ValidationError("Choose a file or paste the YAML.")
        return data
