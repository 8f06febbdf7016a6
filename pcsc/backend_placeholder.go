package pcsc

const Backend = "placeholder"
