"""A fake ``pynvml`` with the real module's function names, constants and errors.

Each GPU's energy advances at ``watts`` from the moment NVML is initialised.
Configure ``GPUS`` before the meter opens.
"""

from __future__ import annotations

from pytest_energy import timing

NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_DEVICE_MIG_DISABLE = 0x0
NVML_DEVICE_MIG_ENABLE = 0x1

_STRINGS = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
}


class NVMLError(Exception):
    _valClassMapping: dict[int, type] = {}

    def __new__(typ, value):
        if typ == NVMLError:
            typ = NVMLError._valClassMapping.get(value, typ)
        obj = Exception.__new__(typ)
        obj.value = value
        return obj

    def __str__(self):
        return _STRINGS.get(self.value, f"NVML Error with code {self.value}")


def _error_class(name: str, value: int) -> type:
    cls = type(name, (NVMLError,), {"__new__": lambda typ, *a: NVMLError.__new__(typ, value)})
    NVMLError._valClassMapping[value] = cls
    return cls


NVMLError_Uninitialized = _error_class("NVMLError_Uninitialized", NVML_ERROR_UNINITIALIZED)
NVMLError_NotSupported = _error_class("NVMLError_NotSupported", NVML_ERROR_NOT_SUPPORTED)
NVMLError_NoPermission = _error_class("NVMLError_NoPermission", NVML_ERROR_NO_PERMISSION)
NVMLError_DriverNotLoaded = _error_class("NVMLError_DriverNotLoaded", NVML_ERROR_DRIVER_NOT_LOADED)
NVMLError_LibraryNotFound = _error_class("NVMLError_LibraryNotFound", NVML_ERROR_LIBRARY_NOT_FOUND)

#: name, uuid, watts, energy_counter (Volta+), mig (None: MIG not supported)
GPUS: list[dict] = [
    {"name": "NVIDIA A100-SXM4-40GB", "uuid": "GPU-aaaa0000-1111", "watts": 100.0,
     "energy_counter": True, "mig": None},
]
INIT_ERROR: int | None = None
#: Millijoules consumed by explicit work: ``consume(mj)`` adds to every GPU's counter.
consumed_mj = [0]


def consume(millijoules: int) -> None:
    consumed_mj[0] += millijoules

calls: list[str] = []
_state = {"init": 0, "t0": 0.0}


def _check() -> None:
    if not _state["init"]:
        raise NVMLError(NVML_ERROR_UNINITIALIZED)


def nvmlInit() -> None:
    calls.append("nvmlInit")
    if INIT_ERROR is not None:
        raise NVMLError(INIT_ERROR)
    _state["init"] += 1
    _state["t0"] = timing.clock.perf_counter()


def nvmlShutdown() -> None:
    calls.append("nvmlShutdown")
    _check()
    _state["init"] -= 1


def nvmlDeviceGetCount() -> int:
    _check()
    return len(GPUS)


def nvmlDeviceGetHandleByIndex(index: int) -> int:
    _check()
    return index


def nvmlDeviceGetUUID(handle: int) -> str:
    return GPUS[handle]["uuid"]


def nvmlDeviceGetName(handle: int) -> str:
    return GPUS[handle]["name"]


def nvmlDeviceGetMigMode(handle: int) -> list[int]:
    mig = GPUS[handle]["mig"]
    if mig is None:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return [mig, mig]


def nvmlDeviceGetTotalEnergyConsumption(handle: int) -> int:
    _check()
    gpu = GPUS[handle]
    if not gpu["energy_counter"]:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    elapsed_mj = int(gpu["watts"] * (timing.clock.perf_counter() - _state["t0"]) * 1000)
    return elapsed_mj + consumed_mj[0] + 123_456_789


def nvmlDeviceGetPowerUsage(handle: int) -> int:
    _check()
    return int(GPUS[handle]["watts"] * 1000)
