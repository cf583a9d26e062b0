"""The public transparency figures: `GET /v1/public/transparency` (JSON) and the page `GET /transparency`."""
