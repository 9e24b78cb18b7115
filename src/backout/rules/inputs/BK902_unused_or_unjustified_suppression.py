"""BK902 unused-or-unjustified-suppression.

The findings of this rule are made by :mod:`backout.suppress`, which alone sees every finding
and every ``backout: ignore[...]`` comment; the rule class carries the code, name and docs.
"""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule


class UnusedOrUnjustifiedSuppression(Rule):
    """A `backout: ignore[...]` comment with no reason, an unknown code, or nothing to suppress.

    ## What it does
    Reports suppression comments that do not hold: one without a reason after the codes, one
    that names a code backout does not have, and one on a line where the named rule found
    nothing (left behind after the hazard was fixed, or placed on the wrong line).

    ## Why is this bad?
    A suppression is a claim that a rollback hazard is understood and accepted. Without a reason
    the next engineer, mid-incident, cannot tell whether it was a judgement or a shortcut. A
    stale one silently swallows the next real finding on that line.

    ## Example
    ```yaml
    image: shop:latest  # backout: ignore[BK101]
    ```

    ## Use instead
    ```yaml
    image: shop:latest  # backout: ignore[BK101] local dev compose file, never deployed
    ```
    """

    code = "BK902"
    name = "unused-or-unjustified-suppression"
    severity = Severity.WARNING
    family = Family.INPUTS

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """Nothing here: :func:`backout.suppress.apply_suppressions` reports BK902."""
        return iter(())
