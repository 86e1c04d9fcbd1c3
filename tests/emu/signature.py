"""moto's SigV4 check, fixed for form-encoded bodies with spaces (IAM, STS)."""


def patch() -> None:
    """Only matters with IAM enforcement on (INITIAL_NO_AUTH_ACTION_COUNT).

    To check a SigV4 signature, moto rebuilds the request; for a form-encoded body (IAM, STS) it
    has only the parsed fields and re-encodes them with `urlencode`, which writes a space as
    "+". The AWS SDKs sign the body with spaces as "%20", as AWS expects, so every request with
    a space in a field (an IAM role or policy description) failed with SignatureDoesNotMatch.
    Re-encode the way the SDKs and AWS do."""
    from urllib.parse import quote, urlencode

    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase._create_aws_request

    def create_aws_request(self):
        if not self._body and isinstance(self._data, dict):
            saved = self._data
            self._data = urlencode(saved, doseq=True, quote_via=quote)
            try:
                return original(self)
            finally:
                self._data = saved
        return original(self)

    IAMRequestBase._create_aws_request = create_aws_request
