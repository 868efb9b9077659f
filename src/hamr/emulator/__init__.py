"""The emulator (`hamr serve --emulator`): the virtual clock, reset and state, fault rules, the
admin API under /_hamr/, its page, and the one client of that API."""
