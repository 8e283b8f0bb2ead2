#!/bin/sh
# Run once by the postgres image when it makes the database: standbys of the compose network may
# stream its WAL (deploy/compose.yaml's postgres-standby).
echo "host replication all all trust" >> "$PGDATA/pg_hba.conf"
