package emulator

// The checked-in sample cards are SampleFiles written out; regenerate after changing them.
//go:generate go run ./internal/cardgen -out ../testdata/cards
