"""Stop words for the BM25 tokenizer: function words of several languages, accent-folded.

Only pure function words (articles, pronouns, auxiliaries, prepositions,
conjunctions). Words that are also English content words are left out of the
other languages' lists (German "die", "war", "will", "also", "man", "gift"; French
"pour"...), because one shared list serves pages of every language. Numbers and
negations are kept (they carry the answer in document QA).
"""

from __future__ import annotations

_ENGLISH = """
a about above after again against am an and any are as at be because been before being below between
both but by could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself of off
on once only or other our ours ourselves out over own same she should so some such than that the their
theirs them themselves then there these they this those through to too under until up very was we were
what when where which while who whom why with would you your yours yourself yourselves s t ll re ve d m
"""
_GERMAN = """
der das dem den des ein eine einer eines einem einen und oder aber ist sind wird werden wurde wurden
sein ihr ihre ihrer ihren ihrem sich mit auf aus bei nach von zu zum zur im ins fur uber unter durch
gegen ohne um als wie wenn dass ob nicht auch noch nur schon sehr wir sie er es ich du ihm ihn uns
euch dieser diese dieses diesem diesen jener kann konnen muss soll hat haben hatte wo was wer
"""
_FRENCH = """
le la les un une des du de et ou mais est sont etre avoir ont ete a au aux ce cet cette ces dans sur
par avec sans sous qui que quoi dont ou il elle ils elles nous vous je tu lui leur leurs son sa ses
mon ma mes ton ta tes se ne pas plus comme si y en aussi tres entre
"""
_SPANISH = """
el la los las un una unos unas y o pero es son ser estar esta estan fue fueron ha han de del al a en
por para con sin sobre entre que quien cual como cuando donde lo le les se su sus mi mis tu yo nos
ellos ellas este esta estos estas ese esa muy mas tambien ya
"""
_PORTUGUESE_ITALIAN_DUTCH = """
o os um uma uns umas e ou mas sao ser foi da do das dos na no nas nos em por para com sem que se
il lo gli uno di da in con su per tra fra che non sono essere della delle dello degli nel nella
het een en van te dat niet zijn op voor met als aan bij ook naar uit worden wordt werd
"""

STOPWORDS: frozenset[str] = frozenset(
    " ".join((_ENGLISH, _GERMAN, _FRENCH, _SPANISH, _PORTUGUESE_ITALIAN_DUTCH)).split()
)
