"""Error types that name where bad input came from (file, line, field, config key)."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad data in an input file: the message names the file, the 1-based line and the field."""

    def __init__(self, path: str | Path, line: int | None, field: str | None, msg: str) -> None:
        self.path, self.line, self.field, self.msg = str(path), line, field, msg
        where = self.path + (f":{line}" if line is not None else "")
        what = f" field '{field}'" if field else ""
        super().__init__(f"{where}:{what} {msg}")

    def __reduce__(self) -> tuple:  # survives pickling (raised in a worker process)
        return (type(self), (self.path, self.line, self.field, self.msg))


class ConfigError(ValueError):
    """Bad configuration: the message names the dotted config key (e.g. `mix.sources.0.share`)."""

    def __init__(self, key: str, msg: str) -> None:
        self.key, self.msg = key, msg
        super().__init__(f"config key '{key}': {msg}")

    def __reduce__(self) -> tuple:
        return (type(self), (self.key, self.msg))
