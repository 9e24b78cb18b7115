"""BK901 unreadable-input."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.sources.base import (
    Computed,
    Misdecoded,
    SqlUnreadable,
    Unfound,
    Unlisted,
    Unopened,
    Unreadable,
)


class UnreadableInput(Rule):
    """A file that looked relevant could not be read, so it was not checked.

    ## What it does
    Reports a file that backout would have checked (a manifest, a chart, a migration, a CI
    workflow, a Dockerfile, a `flyway.conf`, `flyway.toml`, `pom.xml` or Spring Boot
    `application.yml` whose placeholders the drill uses) but could not parse: invalid YAML,
    TOML or XML, SQL that the dialect's parser rejects, a Flyway setting that must be true
    or false and is neither, a binary file, text that is not UTF-8. Also a file it could not
    open or read at all, and a directory it could not list, with the system's reason
    (`permission denied`): a file that disappeared between listing and reading is not
    reported, as it is no longer part of the release. A SQL migration
    that is not valid UTF-8 (a Latin-1 `é` in a comment) is still checked, with the invalid
    bytes replaced, and reported so that the encoding gets fixed: leaving it out would make
    the migration before it look like the newest one.

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
    Valid code whose table, column or statement is computed at run time (an Alembic call
    naming a model's `__tablename__`, `op.execute` of a string a function builds) is
    reported too, with what to do instead of fixing syntax: write the value as a literal, or
    check what it does (`backout drill` runs it) and mark the line `backout: ignore[BK901]`.
    A file or directory that cannot be opened: give the user that runs backout read access
    (and, for a directory, search access), or exclude it.

    A file that a Liquibase changelog names (`include`, a folder of `includeAll`, a `sqlFile`)
    and that the checked tree does not hold is reported at the element naming it, with the
    path looked for: Liquibase stops there too. Correct the path, add the file, or, for an
    include that is optional, set `errorIfMissing="false"` (`includeAll`:
    `errorIfMissingOrEmpty="false"`); `ignore="true"` does not make it optional: Liquibase
    looks for the file before it ignores the changesets.
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
            if isinstance(fact, Unlisted):
                yield self.finding(
                    fact.location,
                    f"could not list this directory: {fact.reason}; no file in it was checked "
                    "for rollback hazards",
                    "give the user that runs backout read and search access to the directory "
                    "(or exclude it if it is not part of the release)",
                )
                continue
            if isinstance(fact, Misdecoded):
                yield self.finding(
                    fact.location,
                    f"this file is {fact.reason}: it was checked with the invalid bytes "
                    "replaced, so a name or value written with them may be misread",
                    "save the file as UTF-8 (the bytes are most likely Latin-1 or "
                    "Windows-1252 text)",
                )
                continue
            if isinstance(fact, Unfound):
                yield self.finding(
                    fact.location,
                    f"{fact.reason}, so what it holds was not checked for rollback hazards",
                    fact.remedy,
                )
                continue
            if isinstance(fact, Computed):
                yield self.finding(
                    fact.location,
                    f"{fact.reason} for rollback hazards",
                    "write the value as a literal; or check by hand what it does at run time "
                    "(`backout drill` runs it) and mark the line `backout: ignore[BK901]`",
                )
                continue
            if isinstance(fact, Unopened):
                yield self.finding(
                    fact.location,
                    f"could not open this {fact.reader} input: {fact.reason}; "
                    "nothing in it was checked for rollback hazards",
                    "give the user that runs backout read access to the file "
                    "(or exclude it if it is not part of the release)",
                )
                continue
            yield self.finding(
                fact.location,
                f"could not read this {fact.reader} input: {fact.reason}; "
                "nothing in it was checked for rollback hazards",
                "fix the syntax (or exclude the file if it is not part of the release)",
            )
