"""What product teams configure about their notifications (issue 19); for now, previewing a
message template (:mod:`common.templates`) against sample data, with nothing stored."""
