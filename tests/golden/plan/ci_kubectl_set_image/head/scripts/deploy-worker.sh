#!/bin/sh
# The worker is released by version: this line changes with each release.
set -eu
kubectl set image statefulset/worker --namespace=jobs worker=ghcr.io/acme/worker:2.4
kubectl rollout status statefulset/worker --namespace=jobs
