codex mcp add virtualsms --env VIRTUALSMS_API_KEY=sk_live_xxx -- npx -y virtualsms-mcp
