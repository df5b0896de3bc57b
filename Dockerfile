# syntax=docker/dockerfile:1
# leash: an egress firewall for AI agents. Multi-stage: build with the dev toolchain, run with production
# dependencies only, as a non-root user. Policies and certs are volumes so operators manage them outside the image.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` builds dist/, and the sources are copied (and built) only below.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY policies ./policies
RUN mkdir -p /app/certs /var/log/leash && chown node:node /app/certs /var/log/leash
USER node
# The listen address and the audit file live in the environment, so the health check below and `leash audit`
# inside the container read the same values leash serve uses. The audit log is a file on a volume, rotated by size.
ENV LEASH_LISTEN=0.0.0.0:3128 LEASH_AUDIT=/var/log/leash/audit.log
VOLUME ["/app/policies", "/app/certs", "/var/log/leash"]
EXPOSE 3128
# GET /healthz (origin-form, answered by leash itself) returns "ok <policy revision>"; the port is LEASH_LISTEN's.
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "const p=(process.env.LEASH_LISTEN||'').split(':').pop()||'3128';require('http').get('http://127.0.0.1:'+p+'/healthz',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
# Listen on all interfaces inside the container; publish the port only to the agents' network.
ENTRYPOINT ["node", "dist/main.js"]
CMD ["serve", "--policy", "/app/policies", "--audit-max-size", "100M", "--audit-keep", "10"]
