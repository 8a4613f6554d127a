"""A small Flask app served unchanged."""

from flask import Flask, request

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "flask ok"


@app.post("/form")
def form() -> dict[str, str]:
    return {"name": request.form["name"], "path": request.path}


@app.get("/q")
def query() -> dict[str, str]:
    return {"a": request.args.get("a", ""), "root": request.script_root}
