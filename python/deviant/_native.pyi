"""The native module (crates/deviant-py): the engine the Python classes call."""

from typing import Any, Callable

__version__: str

class ModelVersionError(ValueError): ...

class Model:
    @staticmethod
    def fit(
        kind: str,
        params: str,
        data: Any,
        options: str,
        file_options: str | None = ...,
        progress: Callable[[str, dict[str, Any]], None] | None = ...,
    ) -> tuple[Model, bytes | None]: ...
    @staticmethod
    def load(path: str) -> Model: ...
    def save(self, path: str) -> None: ...
    def score(self, data: Any, file_options: str | None) -> tuple[bytes, bytes]: ...
    def explain(self, data: Any) -> bytes | None: ...
    def partial_fit(self, data: Any) -> bool: ...
    @property
    def manifest(self) -> str: ...
    @property
    def threshold(self) -> float | None: ...
    @property
    def threshold_rule(self) -> str: ...

def catalogue() -> str: ...
def select_model(
    data: Any,
    options: str,
    selection: str,
    file_options: str | None = ...,
    on_attempt: Callable[[dict[str, Any]], None] | None = ...,
    progress: Callable[[str, dict[str, Any]], None] | None = ...,
) -> tuple[Model, str]: ...
