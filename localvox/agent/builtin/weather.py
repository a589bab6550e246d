"""Weather tool over an open-meteo style HTTP API (geocode, then current conditions).

Offline is the normal case for localvox, so every network failure becomes the spoken
``WEATHER_OFFLINE`` sentence rather than an error; httpx is imported on first use.
"""

from __future__ import annotations

from localvox.agent.tools import function_tool

__all__ = ["WEATHER_OFFLINE", "WeatherClient", "WeatherTools"]

WEATHER_OFFLINE = "I can't reach the weather service right now."

_WMO = {0: "clear sky", 1: "mainly clear", 2: "partly cloudy", 3: "overcast", 45: "fog",
        48: "freezing fog", 51: "light drizzle", 53: "drizzle", 55: "heavy drizzle",
        61: "light rain", 63: "rain", 65: "heavy rain", 66: "freezing rain",
        67: "heavy freezing rain", 71: "light snow", 73: "snow", 75: "heavy snow",
        77: "snow grains", 80: "rain showers", 81: "heavy rain showers",
        82: "violent rain showers", 85: "snow showers", 86: "heavy snow showers",
        95: "thunderstorms", 96: "thunderstorms with hail", 99: "thunderstorms with hail"}


class WeatherClient:
    """open-meteo style: geocode a place name, then fetch the current conditions."""

    def __init__(self, weather_url: str, geocode_url: str, timeout_s: float = 5.0) -> None:
        self.weather_url = weather_url
        self.geocode_url = geocode_url
        self.timeout_s = timeout_s

    async def report(self, location: str) -> str:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                geo = await http.get(self.geocode_url,
                                     params={"name": location, "count": 1, "language": "en"})
                geo.raise_for_status()
                places = geo.json().get("results") or []
                if not places:
                    return f"I couldn't find a place called {location}."
                place = places[0]
                resp = await http.get(self.weather_url, params={
                    "latitude": place["latitude"], "longitude": place["longitude"],
                    "current": "temperature_2m,weather_code,wind_speed_10m",
                    "daily": "temperature_2m_max,temperature_2m_min,"
                             "precipitation_probability_max",
                    "timezone": "auto", "forecast_days": 1})
                resp.raise_for_status()
                data = resp.json()
        except (httpx.HTTPError, ValueError, KeyError):
            return WEATHER_OFFLINE
        try:
            cur = data["current"]
            daily = data.get("daily") or {}
            sky = _WMO.get(int(cur.get("weather_code", -1)), "unsettled weather")
            text = (f"In {place.get('name', location)} it's {round(cur['temperature_2m'])} "
                    f"degrees with {sky}")
            if daily.get("temperature_2m_max"):
                text += (f"; today's high is {round(daily['temperature_2m_max'][0])} "
                         f"and the low {round(daily['temperature_2m_min'][0])}")
            rain = (daily.get("precipitation_probability_max") or [None])[0]
            if rain is not None:
                text += f", with a {round(rain)} percent chance of rain"
            return text + "."
        except (KeyError, TypeError, ValueError, IndexError):
            return "The weather service sent a reply I couldn't read."


class WeatherTools:
    """The ``get_weather`` tool. Mixed into :class:`BuiltinTools`, which provides
    ``weather``."""

    weather: WeatherClient

    @function_tool
    async def get_weather(self, location: str = "") -> str:
        """Get the current weather and today's forecast for a place.

        Args:
            location: City name, e.g. "Paris".
        """
        if not location.strip():
            return "Which place? For example, say: what's the weather in Paris."
        return await self.weather.report(location.strip())
