"""Adobe Camera Raw settings as an XMP sidecar (Lightroom, Camera Raw, darktable's import).

A sidecar is an XMP packet — RDF/XML inside ``x:xmpmeta`` between ``<?xpacket?>``
markers — whose single ``rdf:Description`` carries ``crs:`` (Camera Raw settings,
namespace ``http://ns.adobe.com/camera-raw-settings/1.0/``) attributes:

| attribute                  | meaning                                  | written when |
|----------------------------|------------------------------------------|--------------|
| ``crs:ProcessVersion``     | "11.0" (process version 5, PV2012 sliders) | always |
| ``crs:Exposure2012``       | Exposure, EV, 2 decimals, signed         | EX |
| ``crs:Blacks2012``         | Blacks, integer −100 … 100, signed       | BC |
| ``crs:WhiteBalance``       | "As Shot" or "Custom"                    | always |
| ``crs:Temperature``/``Tint`` | absolute white (K, Adobe tint) — raws  | WB on a raw |
| ``crs:IncrementalTemperature``/``IncrementalTint`` | relative, −100 … 100 — rendered images | WB on a rendered image |
| ``crs:Vibrance``           | integer −100 … 100, signed               | VB |

References: Adobe XMP Specification Part 1 (packet wrapper, RDF/XML serialisation);
the ``crs`` property names are those Camera Raw itself writes.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bno.files import atomic_write_bytes

__all__ = ["CRS_NAMESPACE", "CameraRawSettings", "parse_xmp", "xmp_packet", "write_xmp"]

CRS_NAMESPACE = "http://ns.adobe.com/camera-raw-settings/1.0/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_X = "adobe:ns:meta/"
_PROCESS_VERSION = "11.0"
#: Camera Raw setting name -> field of :class:`CameraRawSettings`.
_FIELD_OF_KEY = {
    "Exposure2012": "exposure",
    "Blacks2012": "blacks",
    "Temperature": "temperature",
    "Tint": "tint",
    "IncrementalTemperature": "incremental_temperature",
    "IncrementalTint": "incremental_tint",
    "Vibrance": "vibrance",
}


@dataclass(frozen=True)
class CameraRawSettings:
    """Slider values for one photo; ``None`` leaves a slider out of the sidecar."""

    exposure: float | None = None  #: EV
    blacks: float | None = None  #: slider units
    temperature: float | None = None  #: K, absolute (raws)
    tint: float | None = None  #: Adobe tint, absolute (raws)
    incremental_temperature: float | None = None  #: −100 … 100 (rendered images)
    incremental_tint: float | None = None  #: −100 … 100 (rendered images)
    vibrance: float | None = None  #: slider units

    @classmethod
    def from_keys(cls, values: Mapping[str, float]) -> CameraRawSettings:
        """Settings from Camera Raw names (``{"Exposure2012": 0.5, "Temperature": 5600, …}``)."""
        unknown = sorted(set(values) - set(_FIELD_OF_KEY))
        if unknown:
            raise ValueError(f"unknown Camera Raw setting(s) {', '.join(unknown)}; known: {', '.join(_FIELD_OF_KEY)}")
        return cls(**{_FIELD_OF_KEY[key]: float(value) for key, value in values.items()})

    def attributes(self) -> dict[str, str]:
        """``crs:`` attribute names (without prefix) -> serialised values, Camera Raw's formats."""
        out = {"ProcessVersion": _PROCESS_VERSION, "HasSettings": "True"}
        if self.exposure is not None:
            out["Exposure2012"] = f"{self.exposure:+.2f}"
        if self.blacks is not None:
            out["Blacks2012"] = f"{_clamp_slider(self.blacks):+d}"
        absolute = self.temperature is not None or self.tint is not None
        relative = self.incremental_temperature is not None or self.incremental_tint is not None
        if absolute and relative:
            raise ValueError("white balance is either absolute (raws) or incremental (rendered images), not both")
        out["WhiteBalance"] = "Custom" if absolute or relative else "As Shot"
        if self.temperature is not None:
            out["Temperature"] = f"{round(self.temperature):d}"
        if self.tint is not None:
            out["Tint"] = f"{round(self.tint):+d}"
        if self.incremental_temperature is not None:
            out["IncrementalTemperature"] = f"{_clamp_slider(self.incremental_temperature):+d}"
        if self.incremental_tint is not None:
            out["IncrementalTint"] = f"{_clamp_slider(self.incremental_tint):+d}"
        if self.vibrance is not None:
            out["Vibrance"] = f"{_clamp_slider(self.vibrance):+d}"
        return out


def _clamp_slider(value: float) -> int:
    return int(max(-100, min(100, round(value))))


def xmp_packet(settings: CameraRawSettings, toolkit: str = "BNO") -> str:
    """A complete, well-formed XMP packet (str) holding ``settings``."""
    attributes = "".join(f'\n    crs:{name}="{value}"' for name, value in settings.attributes().items())
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="{_X}" x:xmptk="{toolkit}">\n'
        f' <rdf:RDF xmlns:rdf="{_RDF}">\n'
        f'  <rdf:Description rdf:about=""\n    xmlns:crs="{CRS_NAMESPACE}"{attributes}/>\n'
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>\n'
    )


def write_xmp(path: os.PathLike | str, settings: CameraRawSettings) -> Path:
    """Write the sidecar atomically (UTF-8) and return its path."""
    path = Path(path)
    atomic_write_bytes(path, xmp_packet(settings).encode("utf-8"))
    return path


def parse_xmp(text: str) -> dict[str, str]:
    """The ``crs:`` attributes of a sidecar (name without prefix -> string value)."""
    body = text[text.index("<x:xmpmeta") : text.index("</x:xmpmeta>") + len("</x:xmpmeta>")]
    root = ElementTree.fromstring(body)
    description = root.find(f"{{{_RDF}}}RDF/{{{_RDF}}}Description")
    if description is None:
        raise ValueError("XMP packet has no rdf:Description")
    prefix = f"{{{CRS_NAMESPACE}}}"
    return {key[len(prefix) :]: value for key, value in description.attrib.items() if key.startswith(prefix)}
