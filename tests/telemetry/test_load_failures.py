"""A failed answer is counted under its status and the API's error code, so the bench can say why."""

from obsctl.run.load.failures import failure_text


def test_a_json_error_is_named_by_its_code() -> None:
    body = '{"error": {"code": "dependency_unavailable", "message": "payment is unavailable", "field": null}}'
    assert failure_text(503, body) == "HTTP 503 dependency_unavailable"


def test_an_answer_without_our_error_body_is_named_by_its_status() -> None:
    assert failure_text(502, "<html>Bad Gateway</html>") == "HTTP 502"
    assert failure_text(500, None) == "HTTP 500"
    assert failure_text(503, '{"error": "busy"}') == "HTTP 503"
    assert failure_text(503, "[1, 2]") == "HTTP 503"
