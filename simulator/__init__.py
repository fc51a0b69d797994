"""SimPy campus simulator: students walking timetables, a radio model, ground truth."""
