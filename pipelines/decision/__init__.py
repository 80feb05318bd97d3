"""Champion/challenger: judging a trained version and moving the champion, as a transaction."""
