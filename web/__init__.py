"""twitchmon web page (filled in below)."""
