"""Runs inside the Label Studio virtual environment (scripts/label_studio_venv.sh), not fsabench's: through
`label-studio-sdk`, make a project from fsabench's exported config, import its tasks, annotate every task
as two users (the first choice of every question, a span on the analysis) and write the JSON export.

    python label_studio_driver.py SPEC.json      SPEC: {url, token, config, tasks, out, emails}
"""

import json
import sys
import xml.etree.ElementTree as ET

from label_studio_sdk import LabelStudio


def main() -> None:
    spec = json.load(open(sys.argv[1]))
    ls = LabelStudio(base_url=spec["url"], api_key=spec["token"])
    config = open(spec["config"]).read()
    project = ls.projects.create(title="fsabench round trip", label_config=config)
    ls.projects.import_tasks(id=project.id, request=json.load(open(spec["tasks"])), return_task_ids=True)
    root = ET.fromstring(config)
    choices = {c.get("name"): c.find("Choice").get("value") for c in root.iter("Choices")}
    span = next((l.get("name") for l in root.iter("Labels")), None)
    users = []
    for email in spec["emails"]:
        try:
            users.append(ls.users.create(email=email, username=email.split("@")[0]).id)
        except Exception:  # noqa: BLE001 - an older server: annotate as the API user
            users.append(None)
    for task in ls.tasks.list(project=project.id):
        data = task.data
        for user in users:
            result = []
            for name, value in choices.items():
                base, _, slot = name.rpartition("_")
                if base and slot.isdigit() and not data.get(f"target_{slot}"):
                    continue  # no target in this slot
                result.append({"from_name": name, "to_name": "analysis", "type": "choices", "value": {"choices": [value]}})
            if span:
                result.append({"from_name": span, "to_name": "analysis", "type": "labels",
                               "value": {"start": 0, "end": 10, "text": data["analysis"][:10], "labels": ["hallucination"]}})
            extra = {"completed_by": user} if user is not None else {}
            ls.annotations.create(id=task.id, result=result, **extra)
    blob = b"".join(ls.projects.exports.download_sync(id=project.id, export_type="JSON", download_all_tasks=True))
    open(spec["out"], "wb").write(blob)
    print(json.dumps({"project": project.id, "users": users, "bytes": len(blob)}))


if __name__ == "__main__":
    main()
