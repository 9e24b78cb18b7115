"""BK901 unreadable-input."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.sources.base import SqlUnreadable, Unreadable


class UnreadableInput(Rule):
    """A file that looked relevant could not be read, so it was not checked.

    ## What it does
    Reports a file that backout would have checked (a manifest, a chart, a migration, a CI
    workflow, a Dockerfile) but could not parse: invalid YAML, SQL that the dialect's parser
    rejects, a binary file, text that is not UTF-8.

    ## Why is this bad?
    Whatever that file would break on rollback stays unseen. An unreadable manifest can hide a
    `:latest` image; an unparsable migration can hide a dropped column. A clean run is only
    worth something when every relevant file was read.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    spec:
      template:
        spec:
          containers:
          - image: shop:1.4
           name: shop      # bad indentation: not YAML
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    spec:
      template:
        spec:
          containers:
          - image: shop:1.4
            name: shop
    ```
    Fix the file, or exclude it (`exclude = ["path/**"]`) when it is not part of the release.
    """

    code = "BK901"
    name = "unreadable-input"
    severity = Severity.WARNING
    family = Family.INPUTS

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per unreadable file or part of one."""
        for fact in context.head.of(Unreadable):
            if isinstance(fact, SqlUnreadable) and fact.dialect != context.config.sql_dialect:
                continue  # another dialect's grammar rejected it; the configured one did not
            yield self.finding(
                fact.location,
                f"could not read this {fact.reader} input: {fact.reason}; "
                "nothing in it was checked for rollback hazards",
                "fix the syntax (or exclude the file if it is not part of the release)",
            )
