"""Rendering: results, change histories and reports as text, files and self-contained pages. Runs no SQL.

    from auditlake.render import escape, formats, report
    formats.RENDERERS[formats.Format.CSV](table, out)          # an Arrow table as CSV, no cell a formula
    report.write(lake.report("pci-dss", since="30d"), Path("reports"), ("html", "md"))

Modules, each one idea, imports pointing down: `escape` (data as text for CSV, Markdown, terminals;
stdlib only) ← `formats` (the `Format` vocabulary, what each command accepts, Arrow renderers) and
`text` (durations, human units) ← `pages` (Jinja2, autoescape, the one stylesheet, `diff_kind`) ←
`charts` (inline SVG) and `history` (change histories) ← `report` (a Report as HTML/Markdown/CSV/JSON).
Templates and the stylesheet live in `templates/`. Never imports the lake, the CLI, the store, duckdb,
typer or rich: only the CLI knows terminals, and it prints what these modules lay out. Importing this
package imports nothing: each module is imported where it is used, so the CLI's start-up stays cheap.
"""
