"""What happens to prepared leads between preparation and the vendor hook, beyond one task attempt."""
