package edustream

// VideoMoves returns the table of legal moves, for the tests that walk it.
// Every move of VideoLifecycle is refused from a state the table does not
// list for it.
func VideoMoves() []VideoTransition {
	return append([]VideoTransition(nil), videoMoves...)
}
