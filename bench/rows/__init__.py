"""One module per row of the performance table; each measures its subject and the ceiling
beside it in the same run, interleaved, ``runs`` times. ``bench.run`` is the entry point."""
