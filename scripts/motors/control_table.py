"""Per-model control tables: LeRobot's addresses, the e-manual's defaults, access and ranges.

Why addresses come from LeRobot's own `lerobot/motors/dynamixel/tables.py`: the simulator must
agree byte for byte with what the pinned LeRobot reads and writes, so the addresses, sizes, model
numbers and operating modes are loaded from that file (by path: it imports nothing, so we avoid
importing `lerobot` and torch). What LeRobot's table does not say (factory defaults, read-only,
EEPROM, value ranges) comes from the ROBOTIS e-manual pages of the XL430-W250 and XL330-M288.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
EEPROM_END = 64  # addresses below are EEPROM: writable only with torque off

# name: (access, min, max); "R" = read-only. Values are in register units.
_RANGES: dict[str, tuple[str, int, int]] = {
    "Model_Number": ("R", 0, 0xFFFF),
    "Model_Information": ("R", 0, 0xFFFFFFFF),
    "Firmware_Version": ("R", 0, 255),
    "ID": ("RW", 0, 252),
    "Baud_Rate": ("RW", 0, 7),
    "Return_Delay_Time": ("RW", 0, 254),
    "Drive_Mode": ("RW", 0, 13),
    "Operating_Mode": ("RW", 0, 16),
    "Secondary_ID": ("RW", 0, 255),
    "Protocol_Type": ("RW", 1, 2),
    "Homing_Offset": ("RW", -1_044_479, 1_044_479),
    "Moving_Threshold": ("RW", 0, 1023),
    "Temperature_Limit": ("RW", 0, 100),
    "Max_Voltage_Limit": ("RW", 0, 160),
    "Min_Voltage_Limit": ("RW", 0, 160),
    "PWM_Limit": ("RW", 0, 885),
    "Current_Limit": ("RW", 0, 1750),
    "Acceleration_Limit": ("RW", 0, 32767),
    "Velocity_Limit": ("RW", 0, 1023),
    "Max_Position_Limit": ("RW", 0, 4095),
    "Min_Position_Limit": ("RW", 0, 4095),
    "Shutdown": ("RW", 0, 255),
    "Torque_Enable": ("RW", 0, 1),
    "LED": ("RW", 0, 1),
    "Status_Return_Level": ("RW", 0, 2),
    "Registered_Instruction": ("R", 0, 1),
    "Hardware_Error_Status": ("R", 0, 255),
    "Velocity_I_Gain": ("RW", 0, 16383),
    "Velocity_P_Gain": ("RW", 0, 16383),
    "Position_D_Gain": ("RW", 0, 16383),
    "Position_I_Gain": ("RW", 0, 16383),
    "Position_P_Gain": ("RW", 0, 16383),
    "Feedforward_2nd_Gain": ("RW", 0, 16383),
    "Feedforward_1st_Gain": ("RW", 0, 16383),
    "Bus_Watchdog": ("RW", -1, 127),
    "Goal_PWM": ("RW", -885, 885),
    "Goal_Current": ("RW", -1750, 1750),
    "Goal_Velocity": ("RW", -1023, 1023),
    "Profile_Acceleration": ("RW", 0, 32767),
    "Profile_Velocity": ("RW", 0, 32767),
    "Goal_Position": ("RW", -1_048_575, 1_048_575),
    "Realtime_Tick": ("R", 0, 32767),
    "Moving": ("R", 0, 1),
    "Moving_Status": ("R", 0, 255),
    "Present_PWM": ("R", -885, 885),
    "Present_Current": ("R", -1750, 1750),
    "Present_Velocity": ("R", -0x7FFFFFFF, 0x7FFFFFFF),
    "Present_Position": ("R", -0x7FFFFFFF, 0x7FFFFFFF),
    "Velocity_Trajectory": ("R", -0x7FFFFFFF, 0x7FFFFFFF),
    "Position_Trajectory": ("R", -0x7FFFFFFF, 0x7FFFFFFF),
    "Present_Input_Voltage": ("R", 0, 0xFFFF),
    "Present_Temperature": ("R", 0, 255),
}

# Factory defaults that differ from 0, per model (e-manual "Control Table" columns).
_COMMON_DEFAULTS = {
    "Firmware_Version": 46,
    "ID": 1,
    "Baud_Rate": 1,
    "Return_Delay_Time": 250,
    "Operating_Mode": 3,
    "Secondary_ID": 255,
    "Protocol_Type": 2,
    "Moving_Threshold": 10,
    "PWM_Limit": 885,
    "Acceleration_Limit": 32767,
    "Max_Position_Limit": 4095,
    "Shutdown": 52,
    "Status_Return_Level": 2,
    "Position_P_Gain": 800,
    "Velocity_P_Gain": 100,
}
_MODEL_DEFAULTS = {
    "xl430-w250": {
        "Temperature_Limit": 72,
        "Max_Voltage_Limit": 140,
        "Min_Voltage_Limit": 60,
        "Velocity_Limit": 265,
        "Velocity_I_Gain": 1000,
        "Position_P_Gain": 640,
        "Present_Input_Voltage": 120,
    },
    "xl330-m288": {
        "Temperature_Limit": 70,
        "Max_Voltage_Limit": 70,
        "Min_Voltage_Limit": 35,
        "Current_Limit": 1750,
        "Velocity_Limit": 445,
        "Velocity_I_Gain": 1000,
        "Position_D_Gain": 0,
        "Present_Input_Voltage": 50,
    },
    "xl330-m077": {  # the leader arm's motor: same electronics as the M288, another gearbox
        "Temperature_Limit": 70,
        "Max_Voltage_Limit": 70,
        "Min_Voltage_Limit": 35,
        "Current_Limit": 1750,
        "Velocity_Limit": 1023,
        "Velocity_I_Gain": 1000,
        "Position_D_Gain": 0,
        "Present_Input_Voltage": 50,
    },
}
# No-load speed in encoder ticks per second (e-manual: XL430-W250 57 rpm @12 V, XL330-M288
# 103 rpm @5 V; 4096 ticks per turn): the fastest the motion model moves a joint.
MAX_SPEED_TICKS = {"xl430-w250": 57 * 4096 / 60, "xl330-m288": 103 * 4096 / 60}
DEFAULT_MAX_SPEED_TICKS = 4000.0


@dataclass(frozen=True)
class Item:
    """One control-table entry as the simulator enforces it."""

    name: str
    address: int
    size: int
    readonly: bool
    eeprom: bool
    lo: int
    hi: int

    @property
    def signed(self) -> bool:
        """Whether the register holds a two's-complement value (its range goes below 0)."""
        return self.lo < 0


def _find_tables_file() -> Path:
    """LeRobot's tables.py: from the running interpreter's LeRobot, else envs/act's."""
    spec = importlib.util.find_spec("lerobot")
    roots = list(spec.submodule_search_locations or []) if spec else []
    roots += [
        str(p)
        for p in sorted(
            (REPO / "envs" / "act" / ".venv" / "lib").glob("python3*/site-packages/lerobot")
        )
    ]
    for root in roots:
        path = Path(root) / "motors" / "dynamixel" / "tables.py"
        if path.is_file():
            return path
    raise FileNotFoundError(
        "LeRobot's motors/dynamixel/tables.py not found: "
        "run in envs/act (make env-act; make motors-sim)"
    )


@cache
def lerobot_tables() -> ModuleType:
    """LeRobot's `tables` module, loaded by path without importing the `lerobot` package."""
    path = _find_tables_file()
    spec = importlib.util.spec_from_file_location("_lerobot_dynamixel_tables", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, mod)
    spec.loader.exec_module(mod)
    return mod


def model_number(model: str) -> int:
    """LeRobot's model number for a model name (xl430-w250 -> 1060)."""
    return lerobot_tables().MODEL_NUMBER_TABLE[model]


def model_name(number: int) -> str | None:
    """The model name for a model number, or None if LeRobot does not know it."""
    for name, nb in lerobot_tables().MODEL_NUMBER_TABLE.items():
        if nb == number:
            return name
    return None


def known_models() -> list[str]:
    """Every model LeRobot has a model number and control table for."""
    t = lerobot_tables()
    return sorted(m for m in t.MODEL_NUMBER_TABLE if m in t.MODEL_CONTROL_TABLE)


@cache
def items(model: str) -> dict[str, Item]:
    """The control table of `model`: LeRobot's addresses plus access, EEPROM and ranges."""
    table = lerobot_tables().MODEL_CONTROL_TABLE[model]
    out = {}
    for name, (address, size) in table.items():
        access, lo, hi = _RANGES.get(name, ("RW", 0, (1 << (8 * size)) - 1))
        out[name] = Item(name, address, size, access == "R", address < EEPROM_END, lo, hi)
    return out


def defaults(model: str) -> dict[str, int]:
    """Factory register values of `model` (registers not named are 0)."""
    return {
        **_COMMON_DEFAULTS,
        **_MODEL_DEFAULTS.get(model, {}),
        "Model_Number": model_number(model),
    }


def operating_modes(model: str) -> list[int]:
    """Operating modes `model` accepts (LeRobot's MODEL_OPERATING_MODES)."""
    return list(lerobot_tables().MODEL_OPERATING_MODES.get(model, [0, 1, 3, 4, 5, 16]))


def baudrate_table() -> dict[int, int]:
    """Baud rate (bps) -> Baud_Rate register value, X series."""
    return dict(lerobot_tables().X_SERIES_BAUDRATE_TABLE)
