#!/bin/sh
# No manifests: the cluster's objects exist, and each deploy sets their images. None of these
# kinds has a rollout history: `kubectl rollout undo` refuses them.
set -eu
# a CronJob released by version
kubectl -n shop set image cronjob/report report=ghcr.io/acme/report:1.3
# a CronJob whose image is the build's commit: the previous one is not in the repository
kubectl -n shop set image cj/cleanup cleanup=ghcr.io/acme/cleanup:$GIT_SHA
kubectl -n tools set image pod/debug debug=ghcr.io/acme/debug:1.3
kubectl -n shop set image rs/legacy legacy=ghcr.io/acme/legacy:1.3
# a Job's pod template is immutable: the API server refuses this line
kubectl -n shop set image job/migrate migrate=ghcr.io/acme/migrate:1.3
