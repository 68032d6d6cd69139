# syntax=docker/dockerfile:1
# One image for the whole platform: `docker run hks/platform <app>` starts one of the six services
# (gateway, invoker, function-registry, builder, deployer, event-store) or `hks` for the CLI.
# Build:   docker build -t hks/platform:dev .
# Compose and the Kubernetes manifests (deploy/) both run this image with the app as the argument.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: compile TypeScript to dist/, then drop the dev dependencies ---------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Manifests first so the dependency layer is reused while only sources change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.build.json .swcrc nx.json ./
COPY tools ./tools
COPY libs ./libs
COPY apps ./apps
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# --- runtime: what the services need at run time, nothing else -------------------------------------
FROM ${NODE_IMAGE} AS runtime
# bubblewrap: the invoker's sandbox for local workers; python3 (+pip, venv) runs Python handlers in
# the invoker and installs their dependencies in the builder; tini reaps the workers' zombies and
# forwards SIGTERM so the services shut down gracefully.
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap slirp4netns iproute2 python3 python3-pip python3-venv tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid so Kubernetes' runAsNonRoot can verify it without resolving names.
RUN groupadd --system --gid 10001 hks \
 && useradd --system --uid 10001 --gid hks --home-dir /home/hks --create-home --shell /usr/sbin/nologin hks \
 && mkdir -p /var/lib/hks \
 && chown hks:hks /var/lib/hks
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    HKS_DATA_DIR=/var/lib/hks \
    HKS_APP_ROOT=/app
# Code stays owned by root: the services read it but cannot change it.
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Runtime shims (plain JS/Python, no build step) and build templates are read from source at run time.
COPY --from=build /app/libs/runtimes ./libs/runtimes
COPY deploy/docker/entrypoint.sh /usr/local/bin/hks-platform
RUN chmod 0755 /usr/local/bin/hks-platform
VOLUME ["/var/lib/hks"]
EXPOSE 8080 8081 8082 8083 8084 8085
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/hks-platform"]
CMD ["help"]
