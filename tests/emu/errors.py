"""The service errors the emulator's patches raise, as moto serializes them."""

from moto.core.exceptions import JsonRESTError


class InvalidParameterError(JsonRESTError):
    """Cognito's InvalidParameterException: {"__type": ..., "message": ...}, HTTP 400."""

    def __init__(self, message: str):
        super().__init__(error_type="InvalidParameterException", message=message)
