// Times and durations for people.

/** "4:05" / "1:02:03" for a countdown; "0:00" once past. */
export function countdown(seconds) {
  const s = Math.max(0, Math.floor(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const r = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`
}

/** "30 seconds", "5 minutes", "1 hour 30 minutes", "90 days". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds))
  const unit = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`
  if (s < 60) return unit(s, 'second')
  if (s < 3600) {
    const m = Math.floor(s / 60)
    const r = s % 60
    return r ? `${unit(m, 'minute')} ${unit(r, 'second')}` : unit(m, 'minute')
  }
  if (s < 86400) {
    const h = Math.floor(s / 3600)
    const m = Math.floor((s % 3600) / 60)
    return m ? `${unit(h, 'hour')} ${unit(m, 'minute')}` : unit(h, 'hour')
  }
  return unit(Math.round(s / 86400), 'day')
}

/** A spoken form of what is left: "about 4 minutes left". */
export function timeLeft(seconds) {
  if (seconds <= 0) return 'expired'
  if (seconds < 60) return 'less than a minute left'
  if (seconds < 3600) return `about ${duration(Math.ceil(seconds / 60) * 60)} left`
  return `about ${duration(Math.round(seconds / 3600) * 3600)} left`
}

/** Clock time, with the date when it is not today. */
export function when(unix) {
  const d = new Date(unix * 1000)
  const today = new Date()
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
  if (d.toDateString() === today.toDateString()) return time
  return `${d.toLocaleDateString([], { year: 'numeric', month: 'short', day: 'numeric' })} ${time}`
}

/** An ISO timestamp for <time datetime>. */
export function iso(unix) {
  return new Date(unix * 1000).toISOString()
}
