"""``twitchmon serve``: the web page and JSON API over a data dir."""
from __future__ import annotations

from web import create_app, serve

from ..config import load_config
from ..paths import data_dir


def main(args) -> int:
    cfg = load_config(args.config)  # a bad settings file: one line and exit 2 now, not a 500 on the page later
    app = create_app({"DATA_DIR": str(data_dir(args.data_dir)), "HOST": args.host, "CONFIG_FILE": args.config,
                      "ALLOWED_HOSTS": cfg.web_hosts})
    serve(app, args.host, args.port)  # listens before it says "serving": a busy port is one line
    return 0
