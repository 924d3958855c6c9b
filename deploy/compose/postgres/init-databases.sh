#!/bin/bash
# Run once by the postgres image when its data folder is new: a database and a role for
# Synapse and for ungechat, each owning its own. Synapse needs the C collation.
set -euo pipefail
: "${SYNAPSE_DB_PASSWORD:?}" "${UNGECHAT_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=synapse_password="$SYNAPSE_DB_PASSWORD" \
    --set=ungechat_password="$UNGECHAT_DB_PASSWORD" <<'SQL'
CREATE ROLE synapse LOGIN PASSWORD :'synapse_password';
CREATE DATABASE synapse OWNER synapse ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
CREATE ROLE ungechat LOGIN PASSWORD :'ungechat_password';
CREATE DATABASE ungechat OWNER ungechat ENCODING 'UTF8' TEMPLATE template0;
SQL
