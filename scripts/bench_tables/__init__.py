"""Every table and plot of docs/RESULTS.md, and the README's summary table, from results/*.json alone (written by
`python scripts/make_tables.py`). One module per kind of section; each imports only the ones above it in this list:

- `common`: the paths (read at call time as `common.RESULTS`, ..., so a test can point them elsewhere), `load`,
  `table` and the small formatting helpers every section shares.
- `curves`: compute curves, ENGINE against its control at equal wall times, one seed or several.
- `engine_settings`: ENGINE against its matched control, setting by setting and start by start.
- `decoding`: the teacher's energy as a ranker, rescoring length candidates, the length head, output lengths.
- `still_encoder`: benchmark A's still-encoder line, and the sharp O1's rise over its start by start.
- `targets`: the issue's targets, the decoding-only checks of their seeds, and the README summary.
- `gain`: the gain against the start over all benchmarks.
- `measurements`: `make demo`, the teachers, decoding speed, the training step's cost, recorded compute.
- `plots`: every figure under docs/.
- `benchmark`: one benchmark's section (`section_bench`), which puts the topic modules together.
- `document`: docs/RESULTS.md's body in order (`render`), its list of sections and the marked regions.
"""
