"""Seed data for the sandbox: a realistic demo account and a large generated one.

``demo_workspace()`` is two workspaces in two regions ("Acme Robotics" in eu-central with six
projects, "Acme Labs" in us-east with two) whose BOMs use real parts. ``generated_workspace()``
builds the benchmark's hundreds of projects from a shared part pool, fast and reproducibly.
Every id comes from a seeded random generator, so the same call gives the same data.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .model import (
    BomInstance,
    BomLine,
    Comment,
    CommentThread,
    Component,
    Document,
    Layer,
    ManufacturerPart,
    Net,
    Pad,
    Parameter,
    Project,
    Release,
    Revision,
    SupplierPart,
    SupplierPrice,
    SupplierStock,
    Tenant,
    Track,
    User,
    Variant,
    Via,
    Workspace,
    node_id,
    truncate_ms,
)

EMAIL_DOMAIN = "acme-robotics.example"
DEFAULT_NOW = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PartSpec:
    """A catalog entry: one component and its part choices, best first."""

    key: str
    prefix: str
    name: str
    comment: str
    description: str
    footprint: str
    parts: tuple[tuple[str, str], ...]
    parameters: tuple[tuple[str, str, str], ...] = ()


def _p(
    key: str,
    prefix: str,
    comment: str,
    description: str,
    footprint: str,
    parts: Sequence[tuple[str, str]],
    *parameters: tuple[str, str, str],
) -> PartSpec:
    return PartSpec(key, prefix, key, comment, description, footprint, tuple(parts), parameters)


def _res(value: str, mpn: str, alt: str | None = None, size: str = "0603") -> PartSpec:
    parts = [("Yageo", mpn)] + ([("Panasonic", alt)] if alt else [])
    return PartSpec(
        f"RES-{value}-{size}",
        "R",
        f"RES-{value}-{size}",
        value,
        f"RES SMD {value} OHM 1% 1/10W {size}",
        f"RESC{size}",
        tuple(parts),
        (
            ("Resistance", value, "RESISTANCE"),
            ("Tolerance", "1%", "PERCENT"),
            ("Case", size, "TEXT"),
        ),
    )


def _cap(
    value: str,
    volts: str,
    diel: str,
    size: str,
    maker: str,
    mpn: str,
    alt: tuple[str, str] | None = None,
) -> PartSpec:
    parts = [(maker, mpn)] + ([alt] if alt else [])
    return PartSpec(
        f"CAP-{value}-{volts}-{size}",
        "C",
        f"CAP-{value}-{volts}-{size}",
        value,
        f"CAP CER {value} {volts} {diel} {size}",
        f"CAPC{size}",
        tuple(parts),
        (
            ("Capacitance", value, "CAPACITANCE"),
            ("Voltage", volts, "VOLTAGE"),
            ("Dielectric", diel, "TEXT"),
        ),
    )


CATALOG: tuple[PartSpec, ...] = (
    _res("0R", "RC0603JR-070RL"),
    _res("10R", "RC0603FR-0710RL"),
    _res("22R", "RC0603FR-0722RL"),
    _res("100R", "RC0603FR-07100RL"),
    _res("330R", "RC0603FR-07330RL"),
    _res("1k", "RC0603FR-071KL", "ERJ-3EKF1001V"),
    _res("2k2", "RC0603FR-072K2L"),
    _res("4k7", "RC0603FR-074K7L"),
    _res("5k1", "RC0603FR-075K1L"),
    _res("10k", "RC0603FR-0710KL", "ERJ-3EKF1002V"),
    _res("47k", "RC0603FR-0747KL"),
    _res("100k", "RC0603FR-07100KL", "ERJ-3EKF1003V"),
    _p(
        "WSL2512R0100FEA",
        "R",
        "10m",
        "RES SMD 0.01 OHM 1% 1W 2512 current sense",
        "RESC2512",
        [("Vishay Dale", "WSL2512R0100FEA")],
        ("Resistance", "10m", "RESISTANCE"),
    ),
    _p(
        "NCP18XH103F03RB",
        "RT",
        "NTC 10k",
        "THERMISTOR NTC 10K OHM 1% 0603",
        "RESC0603",
        [("Murata", "NCP18XH103F03RB")],
        ("Resistance", "10k", "RESISTANCE"),
    ),
    _cap("10pF", "50V", "C0G", "0402", "Murata", "GRM1555C1H100JA01D"),
    _cap("20pF", "50V", "C0G", "0402", "Murata", "GRM1555C1H200JA01D"),
    _cap("10nF", "50V", "X7R", "0603", "Murata", "GRM188R71H103KA01D"),
    _cap(
        "100nF",
        "16V",
        "X7R",
        "0603",
        "Murata",
        "GRM188R71C104KA01D",
        ("Samsung Electro-Mechanics", "CL10B104KO8NNNC"),
    ),
    _cap("1uF", "25V", "X5R", "0603", "Murata", "GRM188R61E105KA12D"),
    _cap("4.7uF", "16V", "X5R", "0603", "Samsung Electro-Mechanics", "CL10A475KO8NNNC"),
    _cap(
        "10uF",
        "10V",
        "X5R",
        "0603",
        "Murata",
        "GRM188R61A106KE69D",
        ("Samsung Electro-Mechanics", "CL10A106KP8NNNC"),
    ),
    _cap("22uF", "25V", "X5R", "0805", "Murata", "GRM21BR61E226ME44L"),
    _p(
        "EEE-FK1V101P",
        "C",
        "100uF 35V",
        "CAP ALUM 100UF 20% 35V SMD",
        "CAPAE660X800",
        [("Panasonic", "EEE-FK1V101P")],
        ("Capacitance", "100uF", "CAPACITANCE"),
    ),
    _p(
        "EEU-FR1V471",
        "C",
        "470uF 35V",
        "CAP ALUM 470UF 20% 35V RADIAL",
        "CAPPRD500W60D1000H2000",
        [("Panasonic", "EEU-FR1V471")],
        ("Capacitance", "470uF", "CAPACITANCE"),
    ),
    _p(
        "STM32F405RGT6",
        "U",
        "STM32F405RGT6",
        "ARM Cortex-M4 MCU, 1 MB Flash, 168 MHz, LQFP-64",
        "LQFP64_10X10",
        [("STMicroelectronics", "STM32F405RGT6")],
        ("Core", "Cortex-M4", "TEXT"),
    ),
    _p(
        "STM32G431CBU6",
        "U",
        "STM32G431CBU6",
        "ARM Cortex-M4 MCU, 128 KB Flash, 170 MHz, UFQFPN-48",
        "QFN48_7X7",
        [("STMicroelectronics", "STM32G431CBU6")],
        ("Core", "Cortex-M4", "TEXT"),
    ),
    _p(
        "DRV8323RSRGZR",
        "U",
        "DRV8323RS",
        "3-phase smart gate driver with buck and 3 CSAs, VQFN-48",
        "QFN48_7X7",
        [("Texas Instruments", "DRV8323RSRGZR")],
    ),
    _p(
        "CSD18540Q5B",
        "Q",
        "CSD18540Q5B",
        "MOSFET N-CH 60V 100A 1.8mOhm SON-8 5x6",
        "SON8_5X6",
        [("Texas Instruments", "CSD18540Q5B")],
        ("Vds", "60V", "VOLTAGE"),
    ),
    _p(
        "INA240A1PWR",
        "U",
        "INA240A1",
        "Current sense amplifier, enhanced PWM rejection, TSSOP-8",
        "TSSOP8",
        [("Texas Instruments", "INA240A1PWR")],
    ),
    _p(
        "TPS62130RGTR",
        "U",
        "TPS62130",
        "Buck converter 3-17 V in, 3 A, VQFN-16",
        "QFN16_3X3",
        [("Texas Instruments", "TPS62130RGTR")],
        ("Output current", "3A", "CURRENT"),
    ),
    _p(
        "TLV1117LV33DCYR",
        "U",
        "TLV1117LV33",
        "LDO regulator 3.3 V 1 A SOT-223",
        "SOT223",
        [("Texas Instruments", "TLV1117LV33DCYR")],
        ("Output voltage", "3.3V", "VOLTAGE"),
    ),
    _p(
        "MCP1700T-3302E/TT",
        "U",
        "MCP1700-3.3",
        "LDO regulator 3.3 V 250 mA SOT-23",
        "SOT23-3",
        [("Microchip Technology", "MCP1700T-3302E/TT")],
        ("Output voltage", "3.3V", "VOLTAGE"),
    ),
    _p(
        "LM358DR",
        "U",
        "LM358",
        "Dual operational amplifier SOIC-8",
        "SOIC8",
        [("Texas Instruments", "LM358DR"), ("onsemi", "LM358DR2G")],
    ),
    _p(
        "NE5532DR",
        "U",
        "NE5532",
        "Dual low-noise operational amplifier SOIC-8",
        "SOIC8",
        [("Texas Instruments", "NE5532DR")],
    ),
    _p(
        "BSS138",
        "Q",
        "BSS138",
        "MOSFET N-CH 50V 220mA SOT-23",
        "SOT23-3",
        [("onsemi", "BSS138"), ("Nexperia", "BSS138BK,215")],
        ("Vds", "50V", "VOLTAGE"),
    ),
    _p(
        "AO3401A",
        "Q",
        "AO3401A",
        "MOSFET P-CH -30V -4A SOT-23",
        "SOT23-3",
        [("Alpha & Omega Semiconductor", "AO3401A")],
        ("Vds", "-30V", "VOLTAGE"),
    ),
    _p(
        "ESP32-WROOM-32E",
        "U",
        "ESP32-WROOM-32E",
        "Wi-Fi + Bluetooth LE module, 4 MB flash",
        "ESP32-WROOM-32E",
        [("Espressif Systems", "ESP32-WROOM-32E")],
    ),
    _p(
        "BME280",
        "U",
        "BME280",
        "Humidity, pressure and temperature sensor LGA-8",
        "LGA8_2.5X2.5",
        [("Bosch Sensortec", "BME280")],
    ),
    _p(
        "SHT40-AD1B-R2",
        "U",
        "SHT40",
        "Humidity and temperature sensor DFN-4",
        "DFN4_1.5X1.5",
        [("Sensirion", "SHT40-AD1B-R2")],
    ),
    _p(
        "CP2102N-A02-GQFN24R",
        "U",
        "CP2102N",
        "USB to UART bridge QFN-24",
        "QFN24_4X4",
        [("Silicon Labs", "CP2102N-A02-GQFN24R")],
    ),
    _p(
        "USBLC6-2SC6",
        "U",
        "USBLC6-2",
        "ESD protection for high speed lines SOT-23-6",
        "SOT23-6",
        [("STMicroelectronics", "USBLC6-2SC6")],
    ),
    _p(
        "STUSB4500QTR",
        "U",
        "STUSB4500",
        "USB Power Delivery sink controller QFN-24",
        "QFN24_4X4",
        [("STMicroelectronics", "STUSB4500QTR")],
    ),
    _p(
        "BQ25895RTWR",
        "U",
        "BQ25895",
        "Single-cell 5 A charger with MaxCharge, WQFN-24",
        "QFN24_4X4",
        [("Texas Instruments", "BQ25895RTWR")],
    ),
    _p(
        "BQ76920PWR",
        "U",
        "BQ76920",
        "3-5 series cell battery monitor AFE, TSSOP-20",
        "TSSOP20",
        [("Texas Instruments", "BQ76920PWR")],
    ),
    _p(
        "TPA3116D2DADR",
        "U",
        "TPA3116D2",
        "50 W stereo class-D audio amplifier HTSSOP-32",
        "HTSSOP32",
        [("Texas Instruments", "TPA3116D2DADR")],
    ),
    _p(
        "PCM5102APWR",
        "U",
        "PCM5102A",
        "112 dB stereo audio DAC with PLL, TSSOP-20",
        "TSSOP20",
        [("Texas Instruments", "PCM5102APWR")],
    ),
    _p(
        "W25Q128JVSIQ",
        "U",
        "W25Q128JV",
        "128 Mbit SPI NOR flash SOIC-8",
        "SOIC8_208MIL",
        [("Winbond Electronics", "W25Q128JVSIQ")],
    ),
    _p(
        "MLX90640ESF-BAB-000-TU",
        "U",
        "MLX90640",
        "32x24 IR thermal array sensor, 55 deg FOV",
        "TO39-4",
        [("Melexis", "MLX90640ESF-BAB-000-TU")],
    ),
    _p(
        "MBR0530T1G",
        "D",
        "MBR0530",
        "Schottky diode 30 V 0.5 A SOD-123",
        "SOD123",
        [("onsemi", "MBR0530T1G")],
    ),
    _p(
        "SMBJ24A",
        "D",
        "SMBJ24A",
        "TVS diode 24 V standoff SMB",
        "DO214AA",
        [("Littelfuse", "SMBJ24A")],
    ),
    _p(
        "BAT54S,215",
        "D",
        "BAT54S",
        "Schottky diode array series 30 V SOT-23",
        "SOT23-3",
        [("Nexperia", "BAT54S,215")],
    ),
    _p(
        "LTST-C191KRKT",
        "D",
        "Red",
        "LED red 631 nm 0603",
        "LEDC1608",
        [("Lite-On", "LTST-C191KRKT")],
    ),
    _p(
        "LTST-C191KGKT",
        "D",
        "Green",
        "LED green 571 nm 0603",
        "LEDC1608",
        [("Lite-On", "LTST-C191KGKT")],
    ),
    _p(
        "ABM8-8.000MHZ-B2-T",
        "Y",
        "8MHz",
        "Crystal 8 MHz 18 pF 3.2x2.5 mm",
        "XTAL_3225",
        [("Abracon", "ABM8-8.000MHZ-B2-T")],
        ("Frequency", "8MHz", "FREQUENCY"),
    ),
    _p(
        "ABS07-32.768KHZ-T",
        "Y",
        "32.768kHz",
        "Crystal 32.768 kHz 12.5 pF 3.2x1.5 mm",
        "XTAL_3215",
        [("Abracon", "ABS07-32.768KHZ-T")],
        ("Frequency", "32.768kHz", "FREQUENCY"),
    ),
    _p(
        "XAL4020-222MEB",
        "L",
        "2.2uH",
        "Shielded power inductor 2.2 uH 5.6 A",
        "IND_4X4",
        [("Coilcraft", "XAL4020-222MEB")],
        ("Inductance", "2.2uH", "INDUCTANCE"),
    ),
    _p(
        "SRN4018-4R7M",
        "L",
        "4.7uH",
        "Semi-shielded power inductor 4.7 uH 1.7 A",
        "IND_4X4",
        [("Bourns", "SRN4018-4R7M")],
        ("Inductance", "4.7uH", "INDUCTANCE"),
    ),
    _p(
        "SRN8040-100M",
        "L",
        "10uH",
        "Semi-shielded power inductor 10 uH 4.2 A",
        "IND_8X8",
        [("Bourns", "SRN8040-100M")],
        ("Inductance", "10uH", "INDUCTANCE"),
    ),
    _p(
        "BLM18PG221SN1D",
        "FB",
        "220R@100MHz",
        "Ferrite bead 220 Ohm 1.4 A 0603",
        "INDC1608",
        [("Murata", "BLM18PG221SN1D")],
    ),
    _p(
        "0466003.NR",
        "F",
        "3A",
        "Fuse fast 3 A 63 V 1206",
        "FUSC3216",
        [("Littelfuse", "0466003.NR")],
        ("Current", "3A", "CURRENT"),
    ),
    _p(
        "USB4105-GF-A",
        "J",
        "USB-C",
        "USB Type-C receptacle, USB 2.0, 16 pin, SMT",
        "USB4105",
        [("GCT", "USB4105-GF-A")],
    ),
    _p(
        "10118194-0001LF",
        "J",
        "Micro-USB",
        "Micro USB 2.0 type B receptacle SMT",
        "USB_MICRO_B",
        [("Amphenol ICC", "10118194-0001LF")],
    ),
    _p(
        "B2B-PH-K-S(LF)(SN)",
        "J",
        "PH 2p",
        "JST PH header 2 pos 2 mm vertical",
        "JST_PH_2",
        [("JST", "B2B-PH-K-S(LF)(SN)")],
    ),
    _p(
        "B6B-PH-K-S(LF)(SN)",
        "J",
        "PH 6p",
        "JST PH header 6 pos 2 mm vertical",
        "JST_PH_6",
        [("JST", "B6B-PH-K-S(LF)(SN)")],
    ),
    _p(
        "53047-0410",
        "J",
        "PicoBlade 4p",
        "Molex PicoBlade header 4 pos 1.25 mm",
        "MOLEX_53047_4",
        [("Molex", "53047-0410")],
    ),
    _p(
        "1935161",
        "J",
        "Terminal 2p",
        "Terminal block 2 pos 5.08 mm",
        "PHOENIX_MKDS_2",
        [("Phoenix Contact", "1935161")],
    ),
    _p(
        "61300611121",
        "J",
        "Header 6p",
        "Pin header 6 pos 2.54 mm vertical",
        "HDR_1X6",
        [("Würth Elektronik", "61300611121")],
    ),
    _p(
        "FTSH-105-01-F-DV-K",
        "J",
        "SWD 10p",
        "Header 2x5 1.27 mm with keying (Cortex debug)",
        "SAMTEC_FTSH_105",
        [("Samtec", "FTSH-105-01-F-DV-K")],
    ),
    _p(
        "SJ-3523-SMT-TR",
        "J",
        "3.5mm jack",
        "Audio jack 3.5 mm stereo SMT",
        "CUI_SJ3523",
        [("CUI Devices", "SJ-3523-SMT-TR")],
    ),
    _p(
        "B3U-1000P",
        "SW",
        "B3U-1000P",
        "Tactile switch SPST-NO 3x2.5 mm",
        "OMRON_B3U",
        [("Omron Electronics", "B3U-1000P")],
    ),
    _p(
        "5015",
        "TP",
        "TP",
        "Test point SMT miniature",
        "KEYSTONE_5015",
        [("Keystone Electronics", "5015")],
    ),
)

_BY_KEY: dict[str, PartSpec] = {spec.key: spec for spec in CATALOG}
_BY_MPN: dict[str, PartSpec] = {mpn: spec for spec in CATALOG for _, mpn in spec.parts}


def _spec(key: str) -> PartSpec:
    spec = _BY_KEY.get(key) or _BY_MPN.get(key)
    if spec is None:
        raise KeyError(f"unknown catalog part {key!r}")
    return spec


class _Ids:
    """Reproducible uuid-like ids and hashes from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def sha(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def digits(self, count: int) -> str:
        return str(self.rng.randrange(10 ** (count - 1), 10**count))


def _user(ids: _Ids, first: str, last: str, domain: str = EMAIL_DOMAIN) -> User:
    user_name = f"{first}.{last}".lower()
    return User(
        user_id=ids.uuid(),
        user_name=user_name,
        email=f"{user_name}@{domain}",
        first_name=first,
        last_name=last,
        global_user_id=ids.uuid(),
    )


def _component(
    ids: _Ids,
    spec: PartSpec,
    *,
    owner: User,
    at: datetime,
    managed: bool = True,
    suppliers: bool = True,
) -> Component:
    parts: list[ManufacturerPart] = []
    for priority, (maker, mpn) in enumerate(spec.parts, start=1):
        supplier_parts = (
            [
                SupplierPart(
                    "Digi-Key",
                    f"{mpn}-ND",
                    [SupplierPrice("USD", 0.12 * priority, 1), SupplierPrice("USD", 0.04, 1000)],
                    [SupplierStock("US", 12000.0)],
                ),
                SupplierPart("Mouser", f"{ids.digits(3)}-{mpn}", [SupplierPrice("USD", 0.11, 1)]),
            ]
            if suppliers
            else []
        )
        parts.append(ManufacturerPart(maker, mpn, priority, ids.digits(8), supplier_parts))
    return Component(
        id=node_id("DesComponent", ids.uuid()),
        name=spec.name,
        comment=spec.comment,
        description=spec.description,
        revision_id=ids.uuid(),
        is_managed=managed,
        created_at=at,
        modified_at=at,
        created_by=owner,
        item_internal_id=ids.uuid(),
        footprint=spec.footprint,
        manufacturer_parts=parts,
        parameters=[Parameter(name, value, kind) for name, value, kind in spec.parameters]
        + [Parameter("Footprint", spec.footprint, "TEXT")],
    )


class _Designators:
    """Hands out R1, R2, C1... per prefix."""

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}

    def next(self, prefix: str) -> str:
        number = self.counters.get(prefix, 0) + 1
        self.counters[prefix] = number
        return f"{prefix}{number}"


def _bom(library: dict[str, Component], items: Iterable[tuple[str, int]]) -> list[BomLine]:
    designators = _Designators()
    lines: list[BomLine] = []
    for key, count in items:
        spec = _spec(key)
        component = library[spec.key]
        instances = [BomInstance(designators.next(spec.prefix)) for _ in range(count)]
        lines.append(BomLine(component, instances))
    return lines


def _pcb(
    ids: _Ids,
    project: Project,
    name: str,
    net_specs: Sequence[tuple[str, float]],
    rng: random.Random,
    *,
    layer_count: int = 4,
) -> Document:
    layers = [Layer("Top Layer"), Layer("Bottom Layer")]
    if layer_count >= 4:
        layers[1:1] = [Layer("GND Plane", "PLANE"), Layer("PWR Plane", "PLANE")]
    pcb = Document(
        ids.uuid(),
        name,
        "PCB",
        project,
        layers=layers,
        width_mm=round(rng.uniform(40, 120), 2),
        height_mm=round(rng.uniform(30, 90), 2),
    )
    designators = (
        [instance.designator for line in project.variants[0].lines for instance in line.instances]
        if project.variants
        else []
    )
    for index, (net_name, length) in enumerate(net_specs):
        net = Net(net_name, length)
        net.layers = [layers[0], layers[-1]] if index % 2 else [layers[0]]
        for layer in net.layers:
            layer.nets.append(net)
        chosen = (
            rng.sample(designators, min(len(designators), 2 + index % 4)) if designators else []
        )
        for pin, designator in enumerate(chosen, start=1):
            pad_number = str(rng.randint(1, 8) if designator[0] in "UJQ" else pin % 2 + 1)
            net.pads.append(
                Pad(
                    pad_number,
                    f"{designator}-{pad_number}",
                    round(rng.uniform(2, pcb.width_mm - 2), 3),
                    round(rng.uniform(2, pcb.height_mm - 2), 3),
                    layer=layers[0],
                    net=net,
                )
            )
        if len(net.pads) >= 2:
            first, second = net.pads[0], net.pads[1]
            net.tracks.append(
                Track(
                    0.25 if not net_name.startswith(("+", "V", "GND")) else 0.6,
                    (first.x_mm, first.y_mm),
                    (second.x_mm, second.y_mm),
                    layers[0],
                    net,
                )
            )
        if len(net.layers) > 1:
            net.vias.append(
                Via(
                    f"V{index + 1}",
                    round(rng.uniform(2, pcb.width_mm - 2), 3),
                    round(rng.uniform(2, pcb.height_mm - 2), 3),
                    begin_layer=layers[0],
                    end_layer=layers[-1],
                    net=net,
                )
            )
        pcb.nets.append(net)
    return pcb


def _mentions(text: str, users: Sequence[User]) -> list[User]:
    names = {user.user_name: user for user in users}
    found: list[User] = []
    for word in text.split():
        if word.startswith("@"):
            user = names.get(word[1:].rstrip(".,:;!?").lower())
            if user is not None and user not in found:
                found.append(user)
    return found


@dataclass(frozen=True, slots=True)
class _ThreadSpec:
    document: str
    author: str
    text: str
    replies: tuple[tuple[str, str], ...] = ()
    resolved_by: str | None = None
    assigned: str | None = None
    designator: str | None = None


@dataclass(frozen=True, slots=True)
class _ProjectSpec:
    name: str
    description: str
    pcb: str
    schematics: tuple[str, ...]
    bom: tuple[tuple[str, int], ...]
    nets: tuple[tuple[str, float], ...]
    threads: tuple[_ThreadSpec, ...] = ()
    lite: tuple[str, ...] = ()
    lite_alternate: tuple[str, str] | None = None
    revisions: tuple[tuple[str, str], ...] = ()
    release: str | None = None
    age_days: int = 90


_USERS = (
    ("Alice", "Nguyen"),
    ("Bob", "Schmidt"),
    ("Carla", "Rossi"),
    ("Dev", "Patel"),
    ("Erik", "Johansson"),
)

_MOTOR = _ProjectSpec(
    name="Motor Controller",
    description="BLDC motor controller, 12-48 V / 20 A, FOC on STM32F405",
    pcb="MotorController.PcbDoc",
    schematics=("MCU.SchDoc", "Power.SchDoc", "GateDriver.SchDoc"),
    bom=(
        ("STM32F405RGT6", 1),
        ("DRV8323RSRGZR", 1),
        ("TPS62130RGTR", 1),
        ("TLV1117LV33DCYR", 1),
        ("INA240A1PWR", 3),
        ("CSD18540Q5B", 6),
        ("RES-10k-0603", 6),
        ("RES-1k-0603", 4),
        ("RES-10R-0603", 6),
        ("RES-22R-0603", 2),
        ("RES-4k7-0603", 2),
        ("RES-100k-0603", 2),
        ("WSL2512R0100FEA", 3),
        ("CAP-100nF-16V-0603", 14),
        ("CAP-10uF-10V-0603", 6),
        ("CAP-1uF-25V-0603", 4),
        ("CAP-22uF-25V-0805", 4),
        ("CAP-20pF-50V-0402", 2),
        ("EEE-FK1V101P", 2),
        ("XAL4020-222MEB", 1),
        ("ABM8-8.000MHZ-B2-T", 1),
        ("LTST-C191KRKT", 1),
        ("LTST-C191KGKT", 1),
        ("SMBJ24A", 1),
        ("1935161", 2),
        ("FTSH-105-01-F-DV-K", 1),
        ("53047-0410", 1),
        ("5015", 4),
        ("0466003.NR", 1),
        ("BLM18PG221SN1D", 1),
    ),
    nets=(
        ("GND", 812.4),
        ("+3V3", 356.9),
        ("+5V", 128.2),
        ("VBAT", 214.7),
        ("PHASE_A", 46.3),
        ("PHASE_B", 47.1),
        ("PHASE_C", 45.8),
        ("SWDIO", 38.6),
        ("SWCLK", 37.9),
        ("NRST", 22.4),
        ("CAN_H", 61.0),
        ("CAN_L", 61.2),
    ),
    threads=(
        _ThreadSpec(
            "MotorController.PcbDoc",
            "bob.schmidt",
            "C12 is too far from the VDD pin of U1, please move it within 2 mm.",
            (
                ("alice.nguyen", "Moved it next to pin 19, routing is shorter too."),
                ("bob.schmidt", "Looks good now."),
            ),
            resolved_by="bob.schmidt",
            designator="C12",
        ),
        _ThreadSpec(
            "MotorController.PcbDoc",
            "carla.rossi",
            "Phase tracks need at least 3 mm width for 20 A, PHASE_B is 2 mm here.",
            (
                (
                    "dev.patel",
                    "@carla.rossi agreed, I'll widen it and add copper on the bottom layer.",
                ),
            ),
            assigned="dev.patel",
        ),
        _ThreadSpec(
            "GateDriver.SchDoc",
            "dev.patel",
            "@bob.schmidt can you check the gate resistor values? 10R might ring with these FETs.",
            (
                ("bob.schmidt", "Let's keep 10R and add footprint for an RC snubber."),
                ("erik.johansson", "Snubber footprint added as DNP."),
            ),
            designator="R17",
        ),
        _ThreadSpec(
            "Power.SchDoc",
            "erik.johansson",
            "TVS D3 standoff is 24 V, but the input range goes to 48 V.",
            assigned="alice.nguyen",
            designator="D3",
        ),
        _ThreadSpec(
            "MCU.SchDoc",
            "alice.nguyen",
            "Add a pull-up on NRST?",
            (("carla.rossi", "Internal pull-up is enough for the STM32F4."),),
            resolved_by="alice.nguyen",
        ),
    ),
    lite=("U5", "U6", "U7", "J4", "R25", "R26"),
    lite_alternate=("U1", "STM32G431CBU6"),
    revisions=(
        ("alice.nguyen", "Initial schematic capture"),
        ("dev.patel", "Placement and power routing"),
        ("alice.nguyen", "Fix gate driver footprint"),
    ),
    release="Rev A prototype",
    age_days=120,
)

_IOT = _ProjectSpec(
    name="IoT Sensor Node",
    description="Battery powered ESP32 environment sensor (temperature, humidity, pressure)",
    pcb="IoTSensorNode.PcbDoc",
    schematics=("MCU.SchDoc", "Sensors.SchDoc", "Power.SchDoc"),
    bom=(
        ("ESP32-WROOM-32E", 1),
        ("BME280", 1),
        ("SHT40-AD1B-R2", 1),
        ("MCP1700T-3302E/TT", 1),
        ("CP2102N-A02-GQFN24R", 1),
        ("USBLC6-2SC6", 1),
        ("10118194-0001LF", 1),
        ("B2B-PH-K-S(LF)(SN)", 1),
        ("AO3401A", 1),
        ("BSS138", 2),
        ("RES-10k-0603", 8),
        ("RES-1k-0603", 2),
        ("RES-4k7-0603", 2),
        ("RES-100k-0603", 2),
        ("RES-22R-0603", 2),
        ("CAP-100nF-16V-0603", 9),
        ("CAP-10uF-10V-0603", 3),
        ("CAP-1uF-25V-0603", 2),
        ("LTST-C191KRKT", 1),
        ("LTST-C191KGKT", 1),
        ("B3U-1000P", 2),
        ("MBR0530T1G", 1),
        ("5015", 3),
    ),
    nets=(
        ("GND", 402.0),
        ("+3V3", 188.5),
        ("VBAT", 74.3),
        ("VBUS", 41.7),
        ("USB_DP", 18.2),
        ("USB_DM", 18.4),
        ("I2C_SCL", 33.9),
        ("I2C_SDA", 34.6),
        ("EN", 12.7),
        ("IO0", 15.3),
    ),
    threads=(
        _ThreadSpec(
            "IoTSensorNode.PcbDoc",
            "carla.rossi",
            "Keep the BME280 away from the ESP32 module, it reads 3 degC high.",
            (("erik.johansson", "Moved U2 to the board edge with a slot around it."),),
            resolved_by="carla.rossi",
            designator="U2",
        ),
        _ThreadSpec(
            "IoTSensorNode.PcbDoc",
            "alice.nguyen",
            "Antenna keep-out is violated by the GND pour on the bottom layer.",
            assigned="erik.johansson",
            designator="U1",
        ),
        _ThreadSpec(
            "Power.SchDoc",
            "bob.schmidt",
            "MCP1700 quiescent current is fine, but 250 mA is marginal for Wi-Fi TX peaks.",
            (
                ("alice.nguyen", "@bob.schmidt peaks are ~240 mA, let's add a 100 uF bulk cap."),
                ("bob.schmidt", "OK with that."),
            ),
        ),
    ),
    lite=("U3", "U5", "U6", "J1", "R13", "R14"),
    revisions=(("carla.rossi", "First layout"), ("erik.johansson", "Move sensors to edge")),
    age_days=75,
)

_USBC = _ProjectSpec(
    name="USB-C PD Charger",
    description="USB-C Power Delivery sink with single-cell Li-ion charger",
    pcb="USBCPDCharger.PcbDoc",
    schematics=("USB.SchDoc", "Charger.SchDoc"),
    bom=(
        ("STUSB4500QTR", 1),
        ("BQ25895RTWR", 1),
        ("USBLC6-2SC6", 1),
        ("USB4105-GF-A", 1),
        ("B2B-PH-K-S(LF)(SN)", 1),
        ("SRN4018-4R7M", 1),
        ("AO3401A", 2),
        ("BSS138", 1),
        ("RES-5k1-0603", 2),
        ("RES-10k-0603", 6),
        ("RES-2k2-0603", 2),
        ("RES-100k-0603", 3),
        ("RES-330R-0603", 2),
        ("NCP18XH103F03RB", 1),
        ("CAP-100nF-16V-0603", 6),
        ("CAP-10uF-10V-0603", 4),
        ("CAP-22uF-25V-0805", 3),
        ("CAP-1uF-25V-0603", 3),
        ("CAP-4.7uF-16V-0603", 2),
        ("CAP-10nF-50V-0603", 1),
        ("LTST-C191KRKT", 1),
        ("LTST-C191KGKT", 1),
        ("SMBJ24A", 1),
        ("0466003.NR", 1),
        ("53047-0410", 1),
        ("5015", 4),
    ),
    nets=(
        ("GND", 296.1),
        ("VBUS", 88.4),
        ("VSYS", 64.0),
        ("VBAT", 52.9),
        ("CC1", 21.3),
        ("CC2", 21.9),
        ("USB_DP", 14.8),
        ("USB_DM", 14.6),
        ("SW", 6.2),
    ),
    threads=(
        _ThreadSpec(
            "Charger.SchDoc",
            "dev.patel",
            "ILIM resistor sets 3.25 A input limit, the PD profile negotiates 3 A.",
            (("alice.nguyen", "Changing R5 to 2k2 brings it down to 2.9 A."),),
            designator="R5",
        ),
        _ThreadSpec(
            "USBCPDCharger.PcbDoc",
            "erik.johansson",
            "Switch node copper area is large, EMI risk near the USB connector.",
            (
                ("dev.patel", "Reduced the SW pour, added a ground stitch row."),
                ("erik.johansson", "Thanks."),
            ),
            resolved_by="erik.johansson",
            designator="L1",
        ),
    ),
    lite=("U3", "D3", "J3"),
    revisions=(("dev.patel", "Initial release candidate"),),
    age_days=60,
)

_AUDIO = _ProjectSpec(
    name="Audio Amplifier",
    description="2 x 50 W class-D amplifier with I2S DAC input",
    pcb="AudioAmplifier.PcbDoc",
    schematics=("Amplifier.SchDoc", "DAC.SchDoc", "Power.SchDoc"),
    bom=(
        ("TPA3116D2DADR", 1),
        ("PCM5102APWR", 1),
        ("NE5532DR", 1),
        ("TLV1117LV33DCYR", 1),
        ("SJ-3523-SMT-TR", 1),
        ("1935161", 3),
        ("SRN8040-100M", 4),
        ("EEU-FR1V471", 4),
        ("CAP-1uF-25V-0603", 8),
        ("CAP-100nF-16V-0603", 10),
        ("CAP-10uF-10V-0603", 4),
        ("CAP-10nF-50V-0603", 2),
        ("RES-10k-0603", 6),
        ("RES-47k-0603", 4),
        ("RES-100R-0603", 2),
        ("RES-0R-0603", 2),
        ("LTST-C191KGKT", 1),
        ("BAT54S,215", 1),
        ("BLM18PG221SN1D", 2),
        ("5015", 2),
    ),
    nets=(
        ("GND", 522.8),
        ("PVCC", 240.1),
        ("+3V3", 96.5),
        ("OUTPL", 28.7),
        ("OUTNL", 29.3),
        ("OUTPR", 28.9),
        ("OUTNR", 29.0),
        ("I2S_BCK", 31.2),
        ("I2S_LRCK", 30.8),
        ("I2S_DATA", 31.5),
    ),
    threads=(
        _ThreadSpec(
            "Amplifier.SchDoc",
            "bob.schmidt",
            "Output filter inductors saturate at 4.2 A, is that enough at 4 Ohm?",
            assigned="carla.rossi",
            designator="L1",
        ),
        _ThreadSpec(
            "AudioAmplifier.PcbDoc",
            "carla.rossi",
            "Please route I2S lines away from the class-D outputs.",
            (("bob.schmidt", "Rerouted on the inner layer."),),
            resolved_by="carla.rossi",
        ),
        _ThreadSpec(
            "DAC.SchDoc",
            "erik.johansson",
            "FMT pin should be tied low for I2S.",
            (
                ("dev.patel", "Done, R11 is now a 0R to GND."),
                ("erik.johansson", "@dev.patel thanks, resolving."),
            ),
            resolved_by="erik.johansson",
        ),
    ),
    revisions=(("bob.schmidt", "Schematic review fixes"),),
    age_days=45,
)

_BMS = _ProjectSpec(
    name="Battery Management",
    description="4S Li-ion battery management board with balancing and fuel gauge",
    pcb="BatteryManagement.PcbDoc",
    schematics=("AFE.SchDoc", "MCU.SchDoc"),
    bom=(
        ("BQ76920PWR", 1),
        ("STM32G431CBU6", 1),
        ("MCP1700T-3302E/TT", 1),
        ("CSD18540Q5B", 2),
        ("WSL2512R0100FEA", 1),
        ("NCP18XH103F03RB", 2),
        ("B6B-PH-K-S(LF)(SN)", 1),
        ("1935161", 2),
        ("0466003.NR", 1),
        ("RES-1k-0603", 8),
        ("RES-10k-0603", 6),
        ("RES-100R-0603", 4),
        ("CAP-100nF-16V-0603", 10),
        ("CAP-1uF-25V-0603", 5),
        ("CAP-4.7uF-16V-0603", 2),
        ("CAP-10uF-10V-0603", 2),
        ("LTST-C191KRKT", 1),
        ("LTST-C191KGKT", 4),
        ("FTSH-105-01-F-DV-K", 1),
        ("ABS07-32.768KHZ-T", 1),
        ("CAP-10pF-50V-0402", 2),
        ("5015", 6),
    ),
    nets=(
        ("GND", 388.0),
        ("BAT+", 154.2),
        ("BAT-", 150.9),
        ("VC1", 44.1),
        ("VC2", 45.0),
        ("VC3", 44.7),
        ("VC4", 46.2),
        ("SRP", 12.4),
        ("SRN", 12.6),
        ("+3V3", 120.3),
    ),
    threads=(
        _ThreadSpec(
            "AFE.SchDoc",
            "alice.nguyen",
            "Cell balancing resistors: 100R gives 40 mA, is the thermal budget OK?",
            (("dev.patel", "Worst case 4 x 0.16 W, fine on 0603 with copper."),),
            assigned="dev.patel",
        ),
        _ThreadSpec(
            "BatteryManagement.PcbDoc",
            "dev.patel",
            "Kelvin connection to the shunt is missing on SRN.",
            assigned="alice.nguyen",
            designator="R1",
        ),
    ),
    lite=("D3", "D4", "D5"),
    revisions=(("alice.nguyen", "AFE schematic"), ("dev.patel", "Routing complete")),
    age_days=30,
)

_SERVO = _ProjectSpec(
    name="Servo Driver",
    description="Small brushed DC servo driver, early concept",
    pcb="ServoDriver.PcbDoc",
    schematics=("ServoDriver.SchDoc",),
    bom=(
        ("STM32G431CBU6", 1),
        ("LM358DR", 1),
        ("BSS138", 2),
        ("RES-10k-0603", 4),
        ("CAP-100nF-16V-0603", 5),
        ("CAP-10uF-10V-0603", 2),
        ("53047-0410", 1),
        ("61300611121", 1),
    ),
    nets=(("GND", 120.0), ("+3V3", 60.5), ("PWM", 22.2), ("FB", 18.9)),
    age_days=7,
)

_LAB_PSU = _ProjectSpec(
    name="Lab Power Supply",
    description="0-15 V / 3 A bench supply with current limit",
    pcb="LabPowerSupply.PcbDoc",
    schematics=("Regulator.SchDoc", "Control.SchDoc"),
    bom=(
        ("TPS62130RGTR", 1),
        ("LM358DR", 2),
        ("INA240A1PWR", 1),
        ("WSL2512R0100FEA", 1),
        ("RES-10k-0603", 6),
        ("RES-1k-0603", 4),
        ("RES-100k-0603", 2),
        ("CAP-100nF-16V-0603", 6),
        ("CAP-22uF-25V-0805", 3),
        ("XAL4020-222MEB", 1),
        ("1935161", 2),
        ("LTST-C191KRKT", 1),
    ),
    nets=(("GND", 210.0), ("VIN", 80.1), ("VOUT", 77.4), ("ISENSE", 20.3)),
    threads=(
        _ThreadSpec(
            "Control.SchDoc",
            "erik.johansson",
            "Current limit loop needs compensation, it oscillates in simulation.",
            (("bob.schmidt", "Added 10 nF across the integrator."),),
        ),
    ),
    revisions=(("erik.johansson", "Bench supply first cut"),),
    age_days=50,
)

_THERMAL = _ProjectSpec(
    name="Thermal Camera Breakout",
    description="MLX90640 breakout with level shifting, not committed yet",
    pcb="ThermalCamera.PcbDoc",
    schematics=("ThermalCamera.SchDoc",),
    bom=(
        ("MLX90640ESF-BAB-000-TU", 1),
        ("MCP1700T-3302E/TT", 1),
        ("BSS138", 2),
        ("RES-10k-0603", 4),
        ("CAP-100nF-16V-0603", 2),
        ("CAP-10uF-10V-0603", 1),
        ("61300611121", 1),
    ),
    nets=(("GND", 48.0), ("+3V3", 30.2), ("SCL", 16.5), ("SDA", 16.1)),
    age_days=3,
)


def _area(rng: random.Random) -> tuple[float, float, float, float]:
    x, y = round(rng.uniform(5, 60), 2), round(rng.uniform(5, 40), 2)
    return (x, y, round(x + 8.5, 2), round(y + 6.0, 2))


def _stamp(base: datetime, minutes: float) -> datetime:
    return truncate_ms(base + timedelta(minutes=minutes))


class _Builder:
    """Builds projects from specs into a workspace, with consistent ids and times."""

    def __init__(
        self,
        ids: _Ids,
        users: Sequence[User],
        library: dict[str, Component],
        workspace_url: str,
        now: datetime,
    ) -> None:
        self.ids = ids
        self.users = users
        self.by_name = {user.user_name: user for user in users}
        self.library = library
        self.workspace_url = workspace_url
        self.now = now

    def project(self, spec: _ProjectSpec, owner: User) -> Project:
        ids = self.ids
        rng = ids.rng
        created = _stamp(self.now, -spec.age_days * 24 * 60)
        span = spec.age_days * 24 * 60
        key = ids.uuid()
        project = Project(
            id=node_id("DesProject", key),
            project_id=key,
            name=spec.name,
            description=spec.description,
            workspace_url=self.workspace_url,
            created_at=created,
            updated_at=created,
            created_by=owner,
            updated_by=owner,
            parameters={"ProjectRevision": "A", "Owner": owner.full_name},
        )
        default = Variant("Default", _bom(self.library, spec.bom), project)
        project.variants.append(default)
        if spec.lite:
            lite = default.copy("Lite")
            for designator in spec.lite:
                found = lite.find(designator)
                if found is not None:
                    found[1].is_fitted = False
            if spec.lite_alternate is not None:
                designator, key_ = spec.lite_alternate
                found = lite.find(designator)
                if found is not None:
                    found[1].alternate_component = self.library[_spec(key_).key]
            project.variants.append(lite)
        project.pcb = _pcb(ids, project, spec.pcb, spec.nets, rng)
        project.schematics = [
            Document(ids.uuid(), name, "SCHEMATIC", project) for name in spec.schematics
        ]
        for index, (author, message) in enumerate(spec.revisions):
            at = _stamp(created, span * (index + 1) / (len(spec.revisions) + 1.5))
            user = self.by_name[author]
            project.revisions.append(
                Revision(ids.sha(), message, user.full_name, at, [("MODIFIED", spec.pcb)])
            )
            project.updated_at = at
            project.updated_by = user
        if spec.release is not None:
            release_id = ids.uuid()
            release = Release(
                node_id("DesRelease", release_id),
                release_id,
                spec.release,
                _stamp(created, span * 0.8),
            )
            release.variants = [
                variant.copy(variant.name, release=release) for variant in project.variants
            ]
            project.releases.append(release)
        for index, thread_spec in enumerate(spec.threads):
            start = span * (0.3 + 0.6 * index / max(1, len(spec.threads)))
            self.thread(project, thread_spec, _stamp(created, start))
        return project

    def thread(self, project: Project, spec: _ThreadSpec, at: datetime) -> None:
        ids = self.ids
        author = self.by_name[spec.author]
        document = project.document(spec.document)
        comments = [
            Comment(ids.uuid(), spec.text, at, at, author, author, _mentions(spec.text, self.users))
        ]
        moment = at
        modified_by = author
        for step, (user_name, text) in enumerate(spec.replies, start=1):
            moment = _stamp(at, step * 95 + 7 * step * step)
            user = self.by_name[user_name]
            comments.append(
                Comment(ids.uuid(), text, moment, moment, user, user, _mentions(text, self.users))
            )
            modified_by = user
        thread = CommentThread(
            comment_thread_id=ids.uuid(),
            thread_number=project.next_thread_number,
            status=1,
            created_at=at,
            modified_at=moment,
            created_by=author,
            modified_by=modified_by,
            document_id=document.document_id,
            comments=comments,
            object_id=spec.designator,
            area=_area(ids.rng),
        )
        project.next_thread_number += 1
        if spec.assigned is not None:
            thread.assigned_to = self.by_name[spec.assigned]
            thread.modified_at = moment = _stamp(moment, 30)
            thread.modified_by = author
        if spec.resolved_by is not None:
            thread.status = 0
            thread.modified_at = _stamp(moment, 45)
            thread.modified_by = self.by_name[spec.resolved_by]
        project.threads.append(thread)


def _library(
    ids: _Ids, specs: Iterable[PartSpec], owner: User, at: datetime
) -> dict[str, Component]:
    return {spec.key: _component(ids, spec, owner=owner, at=at) for spec in specs}


def _workspace(
    ids: _Ids,
    name: str,
    slug: str,
    region: str,
    owner: User,
    members: list[User],
    at: datetime,
    *,
    is_default: bool,
    description: str,
) -> Workspace:
    return Workspace(
        workspace_id=ids.uuid(),
        name=name,
        url=f"https://{slug}.365.altium.com",
        auth_id=ids.uuid(),
        region=region,
        owner=owner,
        created_at=at,
        description=description,
        is_default=is_default,
        members=members,
    )


def demo_workspace(now: datetime | None = None, *, seed: int = 2026) -> Tenant:
    """The demo account: "Acme Robotics" (eu-central, default) and "Acme Labs" (us-east).

    Times lie before ``now`` (default: a fixed 2026-11-28 09:00 UTC), so a sandbox clock
    started at ``now`` stamps every activity after the seeded history.
    """
    now = (now or DEFAULT_NOW).astimezone(UTC).replace(second=0, microsecond=0)
    ids = _Ids(seed)
    users = [_user(ids, first, last) for first, last in _USERS]
    alice = users[0]
    founded = _stamp(now, -400 * 24 * 60)
    robotics = _workspace(
        ids,
        "Acme Robotics",
        "acme-robotics",
        "eu-central",
        alice,
        users,
        founded,
        is_default=True,
        description="Acme Robotics hardware team workspace",
    )
    labs = _workspace(
        ids,
        "Acme Labs",
        "acme-labs",
        "us-east",
        users[4],
        [users[4], users[1]],
        founded,
        is_default=False,
        description="Skunkworks and lab equipment",
    )
    robotics_library = _library(ids, CATALOG, alice, founded)
    labs_keys = {key for spec in (_LAB_PSU, _THERMAL) for key, _ in spec.bom}
    labs_library = _library(ids, [_spec(key) for key in sorted(labs_keys)], users[4], founded)
    robotics.library = list(robotics_library.values())
    labs.library = list(labs_library.values())
    builder = _Builder(ids, users, robotics_library, robotics.url, now)
    owners = (
        "alice.nguyen",
        "carla.rossi",
        "dev.patel",
        "bob.schmidt",
        "alice.nguyen",
        "dev.patel",
    )
    for spec, owner in zip((_MOTOR, _IOT, _USBC, _AUDIO, _BMS, _SERVO), owners, strict=True):
        robotics.projects.append(builder.project(spec, builder.by_name[owner]))
    robotics.projects.sort(key=lambda project: project.created_at)
    lab_builder = _Builder(ids, users, labs_library, labs.url, now)
    for spec in (_LAB_PSU, _THERMAL):
        labs.projects.append(lab_builder.project(spec, users[4]))
    return Tenant([robotics, labs], users)


_GENERATED_NAMES = (
    "Motor Controller",
    "IoT Sensor Node",
    "USB-C PD Charger",
    "Audio Amplifier",
    "Battery Management",
    "Servo Driver",
    "LED Driver",
    "Gateway",
    "Camera Module",
    "Power Distribution",
    "Encoder Interface",
    "Display Board",
)
_COMMENT_TEXTS = (
    "Please check the footprint of {d}.",
    "{d} is too close to the board edge.",
    "Can we use a cheaper alternative for {d}?",
    "Clearance violation near {d}.",
    "Add a test point next to {d}.",
    "Silkscreen of {d} overlaps a pad.",
)
_REPLY_TEXTS = (
    "Fixed in the latest commit.",
    "Agreed, will update.",
    "@{u} can you take a look?",
    "I think this is fine as it is.",
    "Done.",
)
_E24 = (
    "10",
    "11",
    "12",
    "13",
    "15",
    "16",
    "18",
    "20",
    "22",
    "24",
    "27",
    "30",
    "33",
    "36",
    "39",
    "43",
    "47",
    "51",
    "56",
    "62",
    "68",
    "75",
    "82",
    "91",
)


def _ohm_code(ohms: float) -> str:
    """Yageo's value code: 4R7, 470R, 4K7, 47K, 4M7."""
    for limit, unit in ((1e6, "M"), (1e3, "K"), (1.0, "R")):
        if ohms >= limit:
            value = ohms / limit
            whole = int(value)
            fraction = round((value - whole) * 10)
            return f"{whole}{unit}{fraction}" if fraction else f"{whole}{unit}"
    return f"0R{round(ohms * 10)}"


def _generated_pool(count: int) -> list[PartSpec]:
    pool = list(CATALOG)
    keys = {spec.key for spec in pool}
    for size in ("0402", "0603", "0805", "1206"):
        for exponent in range(7):
            for value in _E24:
                if len(pool) >= count:
                    return pool
                code = _ohm_code(int(value) * 10**exponent / 10)
                key = f"RES-{code}-{size}"
                if key in keys:
                    continue
                keys.add(key)
                pool.append(
                    PartSpec(
                        key,
                        "R",
                        key,
                        code,
                        f"RES SMD {code} OHM 1% {size}",
                        f"RESC{size}",
                        (("Yageo", f"RC{size}FR-07{code}L"),),
                        (("Resistance", code, "RESISTANCE"),),
                    )
                )
    index = 0
    while len(pool) < count:
        index += 1
        pool.append(
            PartSpec(
                f"GEN-{index:05d}",
                "U",
                f"GEN-{index:05d}",
                f"GEN-{index:05d}",
                f"Generic part {index}",
                "SOIC8",
                (("Acme Components", f"ACM-{index:05d}"),),
            )
        )
    return pool


def generated_workspace(
    projects: int = 500,
    bom_lines: int = 300,
    threads: int = 20,
    comments_per_thread: int = 3,
    seed: int = 0,
    now: datetime | None = None,
) -> Tenant:
    """A large single-workspace account for the benchmark, reproducible from ``seed``.

    ``projects`` projects, each with one "Default" variant of ``bom_lines`` BOM items (1-4
    designators each), a PCB and two schematic sheets, and ``threads`` comment threads of
    ``comments_per_thread`` comments. Components come from a shared pool.
    """
    now = truncate_ms(now or DEFAULT_NOW)
    ids = _Ids(seed)
    rng = ids.rng
    users = [_user(ids, first, last) for first, last in _USERS]
    users.append(_user(ids, "Fatima", "Khan"))
    founded = _stamp(now, -400 * 24 * 60)
    workspace = _workspace(
        ids,
        "Acme Robotics",
        "acme-robotics",
        "eu-central",
        users[0],
        users,
        founded,
        is_default=True,
        description="Generated benchmark workspace",
    )
    pool_specs = _generated_pool(max(bom_lines + 50, len(CATALOG)))
    pool = [
        _component(ids, spec, owner=users[0], at=founded, suppliers=False) for spec in pool_specs
    ]
    prefixes = [spec.prefix for spec in pool_specs]
    workspace.library = pool
    user_names = [user.user_name for user in users]
    indexes = range(len(pool))
    for number in range(projects):
        created = _stamp(now, -rng.uniform(10, 300) * 24 * 60)
        key = ids.uuid()
        owner = users[number % len(users)]
        base_name = _GENERATED_NAMES[number % len(_GENERATED_NAMES)]
        project = Project(
            id=node_id("DesProject", key),
            project_id=key,
            name=f"{base_name} {number + 1:03d}",
            description=f"Generated project {number + 1}",
            workspace_url=workspace.url,
            created_at=created,
            updated_at=_stamp(created, rng.uniform(60, 9 * 24 * 60)),
            created_by=owner,
            updated_by=owner,
        )
        counters: dict[str, int] = {}
        lines: list[BomLine] = []
        for index in rng.sample(indexes, min(bom_lines, len(pool))):
            prefix = prefixes[index]
            count = counters.get(prefix, 0)
            quantity = 1 + (rng.getrandbits(2) if prefix in ("R", "C") else 0)
            counters[prefix] = count + quantity
            lines.append(
                BomLine(
                    pool[index],
                    [BomInstance(f"{prefix}{count + n}") for n in range(1, quantity + 1)],
                )
            )
        variant = Variant("Default", lines, project)
        project.variants.append(variant)
        slug = base_name.replace(" ", "").replace("-", "")
        project.pcb = _pcb(
            ids,
            project,
            f"{slug}.PcbDoc",
            (("GND", 300.0), ("+3V3", 120.0), ("+5V", 80.0)),
            rng,
            layer_count=2,
        )
        project.schematics = [
            Document(ids.uuid(), f"{sheet}.SchDoc", "SCHEMATIC", project)
            for sheet in ("Main", "Power")
        ]
        project.revisions.append(
            Revision(
                ids.sha(),
                "Initial commit",
                owner.full_name,
                project.updated_at,
                [("ADDED", f"{slug}.PcbDoc")],
            )
        )
        documents = [project.pcb, *project.schematics]
        designators = [line.instances[0].designator for line in lines[:50]] or ["R1"]
        for thread_index in range(threads):
            at = _stamp(created, 60 + thread_index * 37.0)
            author = users[rng.randrange(len(users))]
            designator = designators[thread_index % len(designators)]
            text = _COMMENT_TEXTS[thread_index % len(_COMMENT_TEXTS)].format(d=designator)
            comments = [Comment(ids.uuid(), text, at, at, author, author)]
            last = author
            moment = at
            for reply in range(1, comments_per_thread):
                moment = _stamp(at, reply * 13.0)
                last = users[rng.randrange(len(users))]
                reply_text = _REPLY_TEXTS[(thread_index + reply) % len(_REPLY_TEXTS)].format(
                    u=user_names[reply % len(user_names)]
                )
                comments.append(
                    Comment(
                        ids.uuid(),
                        reply_text,
                        moment,
                        moment,
                        last,
                        last,
                        _mentions(reply_text, users),
                    )
                )
            project.threads.append(
                CommentThread(
                    comment_thread_id=ids.uuid(),
                    thread_number=thread_index + 1,
                    status=0 if thread_index % 3 == 0 else 1,
                    created_at=at,
                    modified_at=moment,
                    created_by=author,
                    modified_by=last,
                    document_id=documents[thread_index % len(documents)].document_id,
                    comments=comments,
                    assigned_to=users[thread_index % len(users)] if thread_index % 4 == 1 else None,
                    object_id=designator,
                )
            )
        project.next_thread_number = threads + 1
        workspace.projects.append(project)
    return Tenant([workspace], users)
