#!/bin/sh
# Stands in for the binary in scripts/npm-pack.sh's VIRTUALSMS_MCP_BINARY check: echoes its args.
echo "fake binary: $1|$2"
