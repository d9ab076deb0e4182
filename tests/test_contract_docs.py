"""Every contract key the schema reads is documented in the contract README."""

from contract_copies import FIXTURES
from sop_eval.contract import schema


def test_every_schema_key_is_documented():
    readme = (FIXTURES / "contracts" / "README.md").read_text(encoding="utf-8")
    missing = []
    for name in dir(schema):
        keys = getattr(schema, name)
        if name.isupper() and isinstance(keys, tuple) and keys and all(hasattr(k, "kind") for k in keys):
            missing += [f"{name}.{k.name}" for k in keys
                        if k.kind not in ("table", "tables", "mapping") and f"`{k.name}`" not in readme]
    assert not missing
