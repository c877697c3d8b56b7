"""auth_error — credentials were missing, invalid, expired or not allowed, and it stayed that way.

Rule: an unrecovered error site that reports an authentication or authorisation failure.
- STRONG: status 401, 403 or 407; exception type like AuthenticationError, Unauthorized,
  PermissionDenied, Forbidden, AccessDenied, InvalidToken, ExpiredToken; code invalid_api_key,
  unauthenticated, permission_denied, authentication_error, expired_token, ...
- MEDIUM: 401/403 written as a status in the message; "invalid API key/token/credentials",
  "incorrect API key", "token has expired", "authentication failed".
- WEAK: "unauthorized", "forbidden", "access denied", "permission denied", "not authorized".
Filesystem permission errors (`PermissionError`, `[Errno 13]`, `EACCES`) are not credentials and
are excluded.
"""

from __future__ import annotations

from api.detectors.site_rules import CauseDetector, CauseRule, pattern, status_in_text


class AuthError(CauseDetector):
    label = "auth_error"
    summary = "authentication or authorisation failed"
    rule = CauseRule(
        statuses=frozenset({401, 403, 407}),
        error_types=pattern(
            r"Authenticat|Unauthori[sz]ed|PermissionDenied|Forbidden|AccessDenied|InvalidApiKey|InvalidToken"
            r"|TokenExpired|ExpiredToken|InvalidCredential|NotAuthenticated|InvalidSignature"
        ),
        codes=frozenset(
            {
                "invalid_api_key",
                "unauthorized",
                "unauthenticated",
                "forbidden",
                "permission_denied",
                "authentication_error",
                "permission_error",
                "invalid_token",
                "expired_token",
                "token_expired",
                "access_denied",
                "accessdenied",
                "invalid_credentials",
                "invalidclienttokenid",
                "expiredtoken",
            }
        ),
        phrases=pattern(
            status_in_text(401, 403) + r"|invalid (?:api[\s_-]?key|token|credentials|auth)|incorrect api[\s_-]?key"
            r"|(?:token|credentials?|session|key) (?:has |have )?expired|expired (?:token|credentials|api key)"
            r"|authentication failed|missing (?:api[\s_-]?key|credentials)"
        ),
        keywords=pattern(r"unauthori[sz]ed|forbidden|access denied|permission denied|not authori[sz]ed"),
        excludes=pattern(r"Errno 13|PermissionError|EACCES"),
    )
