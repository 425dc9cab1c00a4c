"""Human evaluation of the analyses LLMs write: rubrics (rubric.py), items (items.py), blinded studies
(study.py), answers in SQLite (store.py), the annotation server (server.py, web.py, static/), LLM
judges (judge.py), Label Studio and CSV interchange (interchange.py), agreement statistics
(agreement.py, stats.py) and the report section (report.py). See docs/human.md."""
