"""The pipeline's config: a user's file over its base, checked once at parse time, every error in one line.

A config file names its ``base`` (docs/configuration.md): ``default`` (the embedded world's
config/config.yaml, when the key is absent), a path to another config file, or ``none`` (the file is a
whole config, as config/paper.yaml is). The file is merged over its base: mappings key by key at every
depth, except that a registry entry (a mapping with a ``kind`` key: a generator, a control model, an
energy) replaces the base's entry as a whole, and lists replace lists.

Then YAML 1.1 number strings (``lr: 3e-3``) become numbers wherever the schema expects one, the schema's
defaults are filled in, and the schema and the cross-references (table generators, model roles) are
checked; every ``kind: python`` entry gets its code's sha256 as ``version`` (:func:`track_user_code`).
Every failure is a :class:`~promptgen.registry.ConfigError` whose one-line message names the key and its
value. Imports nothing heavy: Snakemake calls this at parse time.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from promptgen.registry import ConfigError
from promptgen.yaml_loader import load_yaml, number_from_string

__all__ = [
    "BASE_KEY",
    "check_references",
    "merge",
    "resolve_base",
    "resolve_config",
    "track_user_code",
    "validate",
]

BASE_KEY = "base"
# role keys of each table section: every one must name an entry of `models` when the table has generators
ROLE_KEYS = {
    "table2": ("control_model", "judges"),
    "table3": ("pose_model", "id_model", "features_model"),
    "table4": ("clip_model",),
    "table5": ("model",),
    "figure8": ("clip_model", "gender_model"),
}
PATTERN_MEANING = {
    "\\S": "a non-blank string",
    "^[A-Za-z_][\\w.]*:[A-Za-z_]\\w*$": "'package.module:factory'",
}


PER_GENERATOR_KEYS = ("generator_train", "generator_methods")  # a table's settings keyed by generator


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged over ``base``: mappings key by key; one with ``kind``, or any other value, whole."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        old = out.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping) and "kind" not in value:
            out[key] = merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_base(
    config: Mapping[str, Any], default: str | Path, seen: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``config`` merged over the chain of bases it names (``default``: the file ``base: default`` means)."""
    base = config.get(BASE_KEY, "default")
    own = {k: v for k, v in config.items() if k != BASE_KEY}
    if base == "none":
        return own
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(f"{BASE_KEY}: expected default, none or a config file path, got {base!r}")
    path = Path(default) if base == "default" else Path(base)
    if str(path.resolve()) in seen:
        raise ConfigError(f"{BASE_KEY}: {path} is its own base (a cycle through {', '.join(seen)})")
    parent = load_yaml(path)
    if not isinstance(parent, Mapping):
        raise ConfigError(f"{BASE_KEY}: {path} does not hold a mapping of config keys")
    if BASE_KEY not in parent:
        parent = {**parent, BASE_KEY: "none"}  # a base file without `base` is a whole config
    return merge(resolve_base(parent, default, (*seen, str(path.resolve()))), own)


def _subschema(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
        return schema
    target = root["$defs"][ref.removeprefix("#/$defs/")]
    base = _subschema(target, root)
    merged = {**base, **{k: v for k, v in schema.items() if k != "$ref"}}
    if "properties" in base and "properties" in schema:
        merged["properties"] = {**base["properties"], **schema["properties"]}
    return merged


def _coerce(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    """``value`` with YAML 1.1 number strings turned into numbers where ``schema`` expects a number."""
    schema = _subschema(schema, root)
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    if isinstance(value, str) and {"number", "integer"} & set(types) and "string" not in types:
        number = number_from_string(value)
        if number is None:
            return value
        return int(number) if "number" not in types and number.is_integer() else number
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_coerce(v, schema["items"], root) for v in value]
    if isinstance(value, Mapping):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {
            k: _coerce(v, props[k], root)
            if k in props
            else (_coerce(v, extra, root) if isinstance(extra, Mapping) else v)
            for k, v in value.items()
        }
    return value


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(err: Any, root: Mapping[str, Any]) -> str:
    """One line for a jsonschema ValidationError: the key's path, what was expected and the value."""
    path, kind, expect, value = _path(err.absolute_path), err.validator, err.validator_value, err.instance
    here = path or "config"
    if kind in ("additionalProperties", "unevaluatedProperties"):
        known = sorted(_subschema(err.schema, root).get("properties", {}))
        extra = sorted(str(k) for k in value if k not in known)
        key = f"{path}.{extra[0]}" if path else extra[0]
        return f"{key}: unknown key (known: {', '.join(known)})"
    if kind == "required":
        missing = [k for k in expect if k not in value]
        key = f"{path}.{missing[0]}" if path else missing[0]
        return f"{key}: missing (required)"
    if kind == "type":
        names = [expect] if isinstance(expect, str) else list(expect)
        article = {"integer": "an integer", "object": "a mapping", "array": "a list"}
        wanted = " or ".join(article.get(t, f"a {t}") for t in names)
        return f"{here}: expected {wanted}, got {_short(value)}"
    bounds = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<"}
    if kind in bounds:
        return f"{here}: expected a value {bounds[kind]} {expect}, got {_short(value)}"
    if kind == "enum":
        return f"{here}: expected one of {', '.join(map(str, expect))}, got {_short(value)}"
    if kind in ("minItems", "maxItems", "minProperties"):
        word = {"minItems": "at least", "maxItems": "at most", "minProperties": "at least"}[kind]
        return f"{here}: expected {word} {expect} {'entry' if expect == 1 else 'entries'}, got {len(value)}"
    if kind == "pattern":
        return (
            f"{here}: expected {PATTERN_MEANING.get(expect, f'a match of {expect!r}')}, got {_short(value)}"
        )
    return f"{here}: {err.message[:200]}"


def _default_validator(schema: Mapping[str, Any]) -> Any:
    """The schema's validator class, extended to fill in each property's ``default`` (a copy of it)."""
    from jsonschema import validators

    cls = validators.validator_for(schema)
    check_properties = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, sub):
        if isinstance(instance, dict):
            for key, prop in properties.items():
                if "default" in prop and key not in instance:
                    instance[key] = copy.deepcopy(prop["default"])
        yield from check_properties(validator, properties, instance, sub)

    return validators.extend(cls, {"properties": set_defaults})(schema)


def validate(config: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Coerce number strings, fill defaults (in place) and check ``config`` against ``schema``."""
    config = _coerce(config, schema, schema)
    errors = sorted(_default_validator(schema).iter_errors(config), key=lambda e: _path(e.absolute_path))
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(_describe(errors[0], schema) + more)
    return config


def check_references(config: Mapping[str, Any]) -> None:
    """Every table's generators, generator_train names and (for a table with generators) model roles name
    defined entries."""
    generators, models = config.get("generators") or {}, config.get("models") or {}
    for table, role_keys in ROLE_KEYS.items():
        section = config.get(table) or {}
        names = list(section.get("generators") or [])
        for name in names:
            if name not in generators:
                defined = ", ".join(generators)
                raise ConfigError(f"{table}.generators: {name!r} is not a generator (defined: {defined})")
        unknown = sorted(set(section.get("generator_train") or {}) - set(generators))
        if unknown:
            raise ConfigError(
                f"{table}.generator_train: {unknown} not in generators (defined: {', '.join(generators)})"
            )
        if not names:
            continue
        for key in role_keys:
            roles = section.get(key)
            for role in roles if isinstance(roles, list) else [roles]:
                if role is not None and role not in models:
                    raise ConfigError(
                        f"{table}.{key}: {role!r} is not a key of models (defined: {', '.join(models)})"
                    )


def _module_file(spec: str) -> Path | None:
    """The source file of the module in ``"package.module:factory"``, found without running the module."""
    module = spec.partition(":")[0]
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = getattr(found, "origin", None)
    return Path(origin) if origin and Path(origin).is_file() else None


def track_user_code(config: Any, where: str = "") -> None:
    """Give every ``kind: python`` entry without a ``version`` the sha256 of its factory's module file.

    Jobs take the entries as params, and Snakemake re-runs a job whose params changed; so editing a user's
    generator, model or energy code re-runs every job that used it (and a training state written with the
    old code is never resumed: the entry is part of its run identity). Code spread over several files
    should carry a ``version`` that the user changes. A module not found at parse time is not tracked (a
    warning says so).
    """
    if isinstance(config, list):
        for i, item in enumerate(config):
            track_user_code(item, f"{where}[{i}]")
        return
    if not isinstance(config, dict):
        return
    if config.get("kind") == "python" and isinstance(config.get("python"), str) and "version" not in config:
        source = _module_file(config["python"])
        if source is None:
            print(  # noqa: T201 - Snakemake shows parse-time stderr
                f"warning: {where}.python: module of {config['python']!r} not found at parse time; its code "
                "is not tracked (give the entry a `version`)",
                file=sys.stderr,
            )
        else:
            config["version"] = "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    for key, value in config.items():
        track_user_code(value, f"{where}.{key}" if where else str(key))


def resolve_config(config: Mapping[str, Any], schema_file: str | Path, default: str | Path) -> dict[str, Any]:
    """The config a run uses: ``config`` over its base, coerced, with defaults, checked.

    Arguments:
        config: what the user gave (``--configfile`` files and ``--config`` values, already combined).
        schema_file: the JSON schema (YAML) with defaults.
        default: the config file that ``base: default`` (or no ``base``) stands for.

    Raises:
        ConfigError: a one-line message naming the offending key and value.
    """
    schema = load_yaml(schema_file)
    resolved = resolve_base(config, default)
    resolved[BASE_KEY] = config.get(BASE_KEY, "default")
    resolved = validate(resolved, schema)
    check_references(resolved)
    track_user_code(resolved)
    for table in ROLE_KEYS:  # per-generator settings a base gives for generators this table does not run
        section = resolved.get(table) or {}
        names = set(section.get("generators") or [])
        for key in PER_GENERATOR_KEYS:
            if section.get(key):
                section[key] = {k: v for k, v in section[key].items() if k in names}
    return resolved
