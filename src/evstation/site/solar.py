"""Weather and PV output for one year at the site, computed with pvlib.

Three sources of irradiance: a synthetic year (pvlib's Ineichen clear sky at the site times a
seeded cloud model scaled to the site's annual GHI, split into beam and diffuse with Erbs), a
PVGIS typical-year file read with pvlib's reader, or a plain hourly CSV (WEATHER_COLUMNS, read by
inputs.py; without DNI and DHI the GHI is split with Erbs as in the synthetic year). Either way the
plane-of-array irradiance, cell temperature and DC -> AC conversion are pvlib's: Hay-Davies
transposition onto the tilted north-facing plane, the SAPM cell temperature model, PVWatts DC with its
temperature coefficient, the system losses, and the PVWatts inverter clipped at its AC limit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pvlib

from ..config import PV, InputLimits, Site, Weather
from ..errors import DataError
from . import inputs
from .calendar import HOURS_PER_YEAR, mid_hours

CLEARNESS_FLOOR = 0.02  # even the darkest hour lets some diffuse light through
CALIBRATION_ROUNDS = 20
CALIBRATION_TOLERANCE = 1e-6
W_PER_KW = 1000.0
WEATHER_KEY = "weather.files"
# A plain weather CSV's columns (hourly means over the hour starting at `timestamp`) and their ranges.
WEATHER_COLUMNS = {
    "ghi_w_m2": inputs.NON_NEGATIVE,
    "air_temperature_c": inputs.ANY_FINITE,
    "relative_humidity_pct": inputs.PERCENT,
    "wind_speed_m_s": inputs.NON_NEGATIVE,
}
BEAM_COLUMNS = {"dni_w_m2": inputs.NON_NEGATIVE, "dhi_w_m2": inputs.NON_NEGATIVE}  # both or neither
IRRADIANCE_COLUMNS = ("ghi_w_m2", "dni_w_m2", "dhi_w_m2")  # at most inputs.limits.irradiance_w_per_m2_max
IRRADIANCE_HINT = "is it an hour's mean in W/m2?"


def _location(site: Site) -> pvlib.location.Location:
    return pvlib.location.Location(
        site.latitude_deg, site.longitude_deg, tz=f"Etc/GMT{-int(site.utc_offset_h):+d}", altitude=site.altitude_m
    )


def _cloud_clearness(days: int, weather: Weather, rng: np.random.Generator) -> np.ndarray:
    """Hourly ratio of GHI to clear-sky GHI: a Beta-distributed daily level plus AR(1) hourly noise."""
    mean, concentration = weather.cloud_daily_mean_clearness, weather.cloud_daily_concentration
    daily = rng.beta(mean * concentration, (1 - mean) * concentration, size=days)
    phi, sigma = weather.cloud_hourly_autocorrelation, weather.cloud_hourly_sigma
    shocks = rng.normal(0.0, sigma * np.sqrt(1 - phi**2), size=days * 24)
    noise = np.empty_like(shocks)
    previous = 0.0
    for index, shock in enumerate(shocks):
        previous = phi * previous + shock
        noise[index] = previous
    return np.clip(np.repeat(daily, 24) + noise, CLEARNESS_FLOOR, 1.0)


def _calibrate(clear_ghi: np.ndarray, clearness: np.ndarray, target_kwh_m2: float) -> np.ndarray:
    """Scale the clearness so the year's GHI meets the target, keeping it within [floor, 1]."""
    clear_kwh_m2 = clear_ghi.sum() / W_PER_KW
    if target_kwh_m2 >= clear_kwh_m2:
        raise DataError(
            f"weather.annual_ghi_kwh_m2: {target_kwh_m2} is not below the clear-sky year ({clear_kwh_m2:.0f})"
        )
    for _ in range(CALIBRATION_ROUNDS):
        annual = (clear_ghi * clearness).sum() / W_PER_KW
        if abs(annual / target_kwh_m2 - 1) < CALIBRATION_TOLERANCE:
            break
        clearness = np.clip(clearness * target_kwh_m2 / annual, CLEARNESS_FLOOR, 1.0)
    return clearness


def _air_temperature_c(hours: pd.DatetimeIndex, weather: Weather, rng: np.random.Generator) -> np.ndarray:
    """A warmest-at-15 h daily cycle around the mean, with slowly wandering noise."""
    hour = hours.hour.to_numpy()
    cycle = weather.air_temperature_diurnal_amplitude_c * np.sin(2 * np.pi * (hour - 9) / 24)
    wander = np.cumsum(rng.normal(0, weather.air_temperature_noise_c / 5, size=len(hours)))
    wander = weather.air_temperature_noise_c * (
        wander - pd.Series(wander).rolling(72, min_periods=1, center=True).mean().to_numpy()
    )
    return (
        weather.air_temperature_mean_c
        + cycle
        + np.clip(wander, -3 * weather.air_temperature_noise_c, 3 * weather.air_temperature_noise_c)
    )


def _split_ghi(
    ghi: np.ndarray, times: pd.DatetimeIndex, location: pvlib.location.Location
) -> tuple[np.ndarray, np.ndarray]:
    """DNI and DHI of each hour's GHI (Erbs), at the middle of the hour."""
    zenith = location.get_solarposition(times)["zenith"]
    split = pvlib.irradiance.erbs(ghi, zenith, times)
    return np.nan_to_num(split["dni"].to_numpy()), np.nan_to_num(split["dhi"].to_numpy())


def synthetic_weather(hours: pd.DatetimeIndex, site: Site, weather: Weather, seed: int) -> pd.DataFrame:
    """A year of hourly weather: clear sky times seeded clouds, calibrated to the annual GHI."""
    rng = np.random.default_rng(seed)
    location = _location(site)
    times = mid_hours(hours)
    clear = location.get_clearsky(times, model="ineichen")
    clearness = _calibrate(
        clear["ghi"].to_numpy(), _cloud_clearness(len(hours) // 24, weather, rng), weather.annual_ghi_kwh_m2
    )
    ghi = clear["ghi"].to_numpy() * clearness
    dni, dhi = _split_ghi(ghi, times, location)
    return pd.DataFrame(
        {
            "ghi_w_m2": ghi,
            "dni_w_m2": dni,
            "dhi_w_m2": dhi,
            "air_temperature_c": _air_temperature_c(hours, weather, rng),
            "relative_humidity_pct": np.full(len(hours), weather.relative_humidity_pct),
            "wind_speed_m_s": np.full(len(hours), weather.wind_speed_m_s),
        },
        index=hours,
    )


def _irradiance_limited(columns: dict[str, inputs.Bounds], limits: InputLimits) -> dict[str, inputs.Bounds]:
    """The columns' bounds, each irradiance capped at its plausibility limit."""
    high = limits.irradiance_w_per_m2_max
    return {
        name: bounds.limited(high, "irradiance_w_per_m2_max", IRRADIANCE_HINT) if name in IRRADIANCE_COLUMNS else bounds
        for name, bounds in columns.items()
    }


def csv_weather(hours: pd.DatetimeIndex, site: Site, path: str | Path, limits: InputLimits) -> pd.DataFrame:
    """Hourly weather from a plain CSV (timestamp + WEATHER_COLUMNS, DNI and DHI optional together, in any
    order), irradiance at most `inputs.limits.irradiance_w_per_m2_max`."""
    header = inputs.read_table(path, WEATHER_KEY, ["timestamp"]).columns
    beam = [name for name in BEAM_COLUMNS if name in header]
    if len(beam) == 1:
        other = next(name for name in BEAM_COLUMNS if name not in beam)
        raise DataError(
            f"{path}: column {other}: missing (give both {' and '.join(BEAM_COLUMNS)}, or neither to "
            "split the GHI with Erbs)"
        )
    columns = _irradiance_limited({**WEATHER_COLUMNS, **(BEAM_COLUMNS if beam else {})}, limits)
    table = inputs.hourly_table(path, WEATHER_KEY, columns, hours, site.utc_offset_h)
    if not beam:
        table["dni_w_m2"], table["dhi_w_m2"] = _split_ghi(
            table["ghi_w_m2"].to_numpy(), mid_hours(hours), _location(site)
        )
    return table[["ghi_w_m2", "dni_w_m2", "dhi_w_m2", "air_temperature_c", "relative_humidity_pct", "wind_speed_m_s"]]


def is_plain_csv(path: str | Path) -> bool:
    """A plain weather CSV starts with its header, a `timestamp` column among its columns (in any order,
    as every input file's); a PVGIS CSV starts with the site's latitude."""
    path = Path(path)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    with open(path, encoding="utf-8-sig", errors="replace") as stream:  # a spreadsheet may start with a BOM
        return inputs.TIMESTAMP in (name.strip().lower() for name in stream.readline().split(","))


def file_weather(
    hours: pd.DatetimeIndex, simulated: pd.DatetimeIndex, site: Site, path: str | Path, limits: InputLimits
) -> pd.DataFrame:
    """The weather of one split's file: a plain CSV for the `simulated` hours, or a PVGIS typical
    year laid onto the whole year's `hours`."""
    if is_plain_csv(path):
        return csv_weather(simulated, site, path, limits)
    return tmy_weather(hours, site, path, limits)


def tmy_weather(hours: pd.DatetimeIndex, site: Site, path: str | Path, limits: InputLimits) -> pd.DataFrame:
    """A PVGIS typical year laid onto the simulated year's local hours (the file is in UTC), irradiance at
    most `inputs.limits.irradiance_w_per_m2_max`."""
    path = inputs.require_file(path, WEATHER_KEY)
    try:
        data = pvlib.iotools.read_pvgis_tmy(str(path), map_variables=True)[0]
    except Exception as error:  # pvlib raises many kinds of errors for a malformed file
        raise DataError(f"{path}: not a readable PVGIS TMY file ({type(error).__name__}: {error})") from None
    needed = ["ghi", "dni", "dhi", "temp_air", "relative_humidity", "wind_speed"]
    missing = [name for name in needed if name not in data.columns]
    if missing or len(data) != HOURS_PER_YEAR:
        raise DataError(f"{path}: a TMY needs {HOURS_PER_YEAR} hourly rows with {', '.join(needed)}")
    for name in needed:
        values = data[name].to_numpy(dtype=float)
        if not np.isfinite(values).all() or (name != "temp_air" and (values < 0).any()):
            raise DataError(f"{path}: column {name}: missing, non-numeric or negative values")
        if name in ("ghi", "dni", "dhi") and (values > limits.irradiance_w_per_m2_max).any():
            hour = int(np.flatnonzero(values > limits.irradiance_w_per_m2_max)[0])
            raise DataError(
                f"{path}: column {name}: hour {hour} of the year (UTC): {values[hour]:g} is above "
                f"{limits.irradiance_w_per_m2_max:g}, the limit {inputs.LIMITS_KEY}.irradiance_w_per_m2_max "
                f"({IRRADIANCE_HINT})"
            )
    local_shift = int(round(site.utc_offset_h))
    values = np.roll(data[needed].to_numpy(dtype=float), local_shift, axis=0)
    frame = pd.DataFrame(values, columns=needed, index=hours)
    return pd.DataFrame(
        {
            "ghi_w_m2": frame["ghi"],
            "dni_w_m2": frame["dni"],
            "dhi_w_m2": frame["dhi"],
            "air_temperature_c": frame["temp_air"],
            "relative_humidity_pct": frame["relative_humidity"],
            "wind_speed_m_s": frame["wind_speed"],
        },
        index=hours,
    )


def pv_output(weather: pd.DataFrame, site: Site, pv: PV) -> pd.DataFrame:
    """Plane-of-array irradiance, cell temperature and DC/AC power (kW, hourly means) of the PV plant."""
    location = _location(site)
    times = mid_hours(weather.index)
    position = location.get_solarposition(times)
    poa = pvlib.irradiance.get_total_irradiance(
        surface_tilt=pv.tilt_deg,
        surface_azimuth=pv.azimuth_deg,
        solar_zenith=position["apparent_zenith"].to_numpy(),
        solar_azimuth=position["azimuth"].to_numpy(),
        dni=weather["dni_w_m2"].to_numpy(),
        ghi=weather["ghi_w_m2"].to_numpy(),
        dhi=weather["dhi_w_m2"].to_numpy(),
        dni_extra=pvlib.irradiance.get_extra_radiation(times).to_numpy(),
        albedo=pv.albedo,
        model="haydavies",
    )
    poa_w_m2 = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float)).clip(min=0)
    model = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][pv.cell_temperature_model]
    cell_c = pvlib.temperature.sapm_cell(
        poa_w_m2, weather["air_temperature_c"].to_numpy(), weather["wind_speed_m_s"].to_numpy(), **model
    )
    dc_w = pvlib.pvsystem.pvwatts_dc(
        poa_w_m2, cell_c, pv.dc_capacity_kwp * W_PER_KW, pv.temperature_coefficient_pct_per_c / 100
    )
    dc_after_losses_w = np.asarray(dc_w) * (1 - pv.system_losses_pct / 100)
    efficiency = pv.inverter_nominal_efficiency_pct / 100
    ac_w = pvlib.inverter.pvwatts(
        dc_after_losses_w, pdc0=pv.inverter_ac_limit_kw * W_PER_KW / efficiency, eta_inv_nom=efficiency
    )
    ac_kw = np.clip(np.nan_to_num(np.asarray(ac_w, dtype=float)) / W_PER_KW, 0.0, pv.inverter_ac_limit_kw)
    return pd.DataFrame(
        {
            "poa_w_m2": poa_w_m2,
            "cell_temperature_c": np.asarray(cell_c, dtype=float),
            "pv_dc_kw": dc_after_losses_w / W_PER_KW,
            "pv_ac_kw": ac_kw,
        },
        index=weather.index,
    )


def pv_year_summary(pv_table: pd.DataFrame, pv: PV) -> dict:
    """Annual PV energy, specific yield and performance ratio (AC yield over POA insolation)."""
    ac_kwh = float(pv_table["pv_ac_kw"].sum())
    poa_kwh_m2 = float(pv_table["poa_w_m2"].sum()) / W_PER_KW
    yield_kwh_per_kwp = ac_kwh / pv.dc_capacity_kwp if pv.dc_capacity_kwp else 0.0
    return {
        "pv_ac_kwh": ac_kwh,
        "poa_insolation_kwh_m2": poa_kwh_m2,
        "pv_yield_kwh_per_kwp": yield_kwh_per_kwp,
        "performance_ratio": yield_kwh_per_kwp / poa_kwh_m2 if poa_kwh_m2 else 0.0,
        "pv_peak_ac_kw": float(pv_table["pv_ac_kw"].max()),
    }
