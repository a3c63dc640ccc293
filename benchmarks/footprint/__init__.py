"""Memory and cold start: peak RSS and time to first result, each case in a fresh process."""
