"""Operations: operator commands, status, health, sync lag and recent declines."""
