# syntax=docker/dockerfile:1
# The operator image: built with cargo, run as a non-root static-ish binary on
# distroless. (No Docker engine in this project's CI: the chart is tested with
# the binary itself; keep this file minimal and obviously correct.)

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
# kube-runtime with one file patched (vendor/kube-runtime/PATCHED.md).
COPY vendor ./vendor
# Only the operator package: the simulator and the quickstart (which needs
# the envtest crate and a Go toolchain) are other workspace members, and
# the test hooks are a feature only the tests turn on.
RUN cargo build --release --locked -p immybot-operator --bin immybot-operator --bin kubectl-immybot

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/immybot-operator /usr/local/bin/immybot-operator
COPY --from=build /src/target/release/kubectl-immybot /usr/local/bin/kubectl-immybot
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/immybot-operator"]
