claude mcp add virtualsms -e VIRTUALSMS_API_KEY=sk_live_xxx -- npx -y virtualsms-mcp
