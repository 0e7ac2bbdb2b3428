package bot

// SetOrderLookup sets the service asked about orders the journeys do not
// hold (orders.lookup_url). Call it before the bot handles messages: the
// runtime builds the lookup after the bot.
func (b *Bot) SetOrderLookup(o OrderLookup) { b.orders = o }
