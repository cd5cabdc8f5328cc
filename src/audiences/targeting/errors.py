from audiences.errors import AppError, ErrorItem


class UnsupportedPlatform(AppError):
    status = 400
    code = "unsupported_platform"
    title = "Unsupported platform"

    def __init__(self, platform: str, supported: list[str]) -> None:
        message = f"Unknown platform {platform!r}; use one of: {', '.join(supported)}."
        super().__init__(message, errors=[ErrorItem(self.code, "query.platform", message)])


class UnknownCountry(AppError):
    status = 400
    code = "unknown_country"
    title = "Unknown country"

    def __init__(self, country: str) -> None:
        message = f"{country!r} is not an ISO 3166-1 alpha-2 country code."
        super().__init__(message, errors=[ErrorItem(self.code, "query.country", message)])
