#!/usr/bin/env python3
"""Generates the labelled ambiguous-name set (issue 16): ten brands whose
name is also a common word, posts in English, French, Spanish and German
about the brand or about the word, labelled, split into train and test.

Written for this repository, no third-party text: licensed like Earshot
(see LICENCE.md beside this file).

Posts are assembled from clause pools per sector (airline, retail, telecom,
car maker, fuel, sportswear, personal care) and per common sense of each
name (animal, river, fruit, weather, ...). The watchlist (brands.toml) lists
only a few context words per brand; most clauses use words it does not
foresee (other verbs for travelling, staff and customers, results
vocabulary, another language), which is the case the context model is for.
Nothing here is tuned per post: the pools are fixed, the draw is seeded.

    python3 benches/context/gen.py OUTDIR [SEED]

writes OUTDIR/brands.toml (the watchlist), OUTDIR/train.jsonl and
OUTDIR/test.jsonl (200 posts each with `labels` in the `earshot eval` format;
the figures come from test.jsonl alone) and OUTDIR/stream.jsonl
(1,500 unlabelled posts of the same kind, none with a held-out text: what
the watchlist's rules alone can teach the model).
"""
import json
import random
import sys

# name, sector, other sense, handle, hashtag, second language
BRANDS = [
    ("Delta", "airline", "river", "delta", "DeltaAir", "es"),
    ("Target", "retail", "goal", "target", "TargetRun", "es"),
    ("Orange", "telecom", "fruit", "orange", "OrangeFrance", "fr"),
    ("Jaguar", "car", "animal", "jaguar", "JaguarCars", "de"),
    ("Shell", "fuel", "sea", "shell", "ShellStation", "fr"),
    ("Gap", "retail", "gap", "gap", "GapStyle", "fr"),
    ("Puma", "sportswear", "animal", "puma", "PumaRun", "de"),
    ("Sky", "telecom", "weather", "skyuk", "SkyTV", "de"),
    ("Amazon", "retail", "river", "amazon", "AmazonPrime", "es"),
    ("Dove", "care", "bird", "dove", "DoveBeauty", "fr"),
]

# {N} is the brand's name. Clauses with {N} carry the name; the others
# only add context.
SECTOR = {
    "airline": {
        "en": (["{N} lost my suitcase between Atlanta and Boston",
                "boarding with {N} took forever this morning",
                "the cabin crew on {N} were so kind to my kids",
                "{N} bumped me off the 6am to Denver",
                "{N} upgraded me to first class for free",
                "just landed in Paris, thanks {N}",
                "{N} charged me twice for a checked bag",
                "waiting at gate B12, {N} says another delay"],
               ["the pilot kept us updated the whole time",
                "my connection in Detroit is gone",
                "legroom in economy is a joke",
                "the lounge was packed and the wifi useless",
                "miles still not credited after three weeks",
                "customer care kept me on hold for an hour",
                "baggage claim took ages",
                "the check-in agent was lovely"]),
        "es": (["{N} perdió mi maleta en Atlanta",
                "el embarque con {N} fue un caos",
                "la tripulación de {N} fue muy amable",
                "{N} me cambió el asiento sin avisar"],
               ["el piloto nos informó de todo",
                "perdí la conexión en Detroit",
                "la azafata nos trajo agua",
                "llevo una hora en la puerta de embarque"]),
    },
    "retail": {
        "en": (["picked up my order at {N} in ten minutes",
                "{N} has the best deals on kids clothes this week",
                "the checkout line at {N} was insane",
                "{N} refunded my return without a receipt",
                "{N} shares fell after weak quarterly results",
                "the cashier at {N} was super helpful",
                "my {N} delivery arrived a day early",
                "{N} raised its holiday sales forecast"],
               ["the store was clean and well stocked",
                "customer service sorted it out quickly",
                "the self checkout kept freezing",
                "prices went up again since last month",
                "analysts expect margins to improve",
                "the parcel was left at the wrong door",
                "the fitting rooms were closed",
                "the new loyalty app is handy"]),
        "es": (["compré unos vaqueros en {N} y me quedan genial",
                "el pedido de {N} llegó roto",
                "{N} subió sus ventas este trimestre",
                "la cajera de {N} fue muy simpática"],
               ["el envío tardó dos semanas",
                "la devolución fue rápida",
                "los precios subieron otra vez",
                "la tienda estaba llena de gente"]),
        "fr": (["j'ai commandé un pull chez {N}",
                "la caissière de {N} était adorable",
                "{N} a encore augmenté ses prix",
                "le magasin {N} du centre ferme"],
               ["le colis est arrivé en retard",
                "le remboursement a pris trois semaines",
                "les cabines d'essayage étaient fermées",
                "les vendeurs étaient débordés"]),
    },
    "telecom": {
        "en": (["{N} broadband has been down all evening",
                "my {N} bill doubled without warning",
                "{N} finally fixed the router after three visits",
                "switched to {N} and my signal is great",
                "{N} engineers cancelled my installation again",
                "{N} customers report outages across London",
                "the {N} box keeps rebooting during the match",
                "{N} raised prices mid contract"],
               ["the technician never showed up",
                "no 4G in the whole neighbourhood",
                "the helpline kept transferring me",
                "fibre speeds are half what they promised",
                "roaming charges are a scam",
                "my contract renewal is a mess",
                "the streaming keeps buffering",
                "the new tariff is cheaper at least"]),
        "fr": (["ma box {N} ne marche plus depuis hier",
                "{N} m'a facturé deux fois ce mois",
                "le conseiller {N} a été très patient",
                "{N} coupe ma ligne sans prévenir"],
               ["le technicien n'est jamais venu",
                "plus de réseau dans tout le quartier",
                "la fibre rame le soir",
                "le forfait a encore augmenté"]),
        "de": (["{N} Receiver startet ständig neu",
                "die Rechnung von {N} ist viel zu hoch",
                "{N} hat endlich meinen Anschluss repariert",
                "der Kundendienst von {N} war super"],
               ["der Techniker kam nie",
                "das Internet ist abends extrem langsam",
                "der Vertrag lässt sich nicht kündigen",
                "die Hotline war stundenlang besetzt"]),
    },
    "car": {
        "en": (["test drove the new {N} EV today, wow",
                "my {N} has been at the dealership for a month",
                "{N} recalls thousands of SUVs over a brake fault",
                "{N} sales climbed in China this quarter",
                "the {N} service center quoted me a fortune",
                "took the {N} on the motorway, smooth as butter",
                "{N} unveils a new electric saloon",
                "the infotainment in my {N} crashed again"],
               ["the gearbox warning light keeps coming on",
                "range is about 300 miles on a full charge",
                "the mechanic found a coolant leak",
                "leather seats and a gorgeous dashboard",
                "the warranty should cover the repair",
                "insurance for it costs a fortune",
                "parking sensors beep at nothing",
                "the test drive sold me"]),
        "de": (["mein {N} steht seit Wochen in der Werkstatt",
                "{N} ruft tausende SUVs zurück",
                "Probefahrt im neuen {N} war klasse",
                "der Händler von {N} war unfreundlich"],
               ["das Getriebe macht Geräusche",
                "die Reichweite ist enttäuschend",
                "die Garantie deckt die Reparatur",
                "der Motor läuft wunderbar ruhig"]),
    },
    "fuel": {
        "en": (["{N} petrol prices are daylight robbery",
                "filled up at {N} and the pump was broken",
                "{N} profits soared on higher oil prices",
                "{N} is closing its station on Main Street",
                "the {N} forecourt shop sells decent coffee",
                "{N} plans more EV chargers on motorways",
                "{N} shareholders voted on the climate plan",
                "paid at the {N} pump and got no receipt"],
               ["diesel went up again this week",
                "the car wash was out of order",
                "refinery output dropped last quarter",
                "the cashier was rude about my card",
                "oil majors face pressure from investors",
                "the charger was occupied for an hour",
                "loyalty points never showed up",
                "queue for the pumps went round the block"]),
        "fr": (["le plein chez {N} m'a coûté une fortune",
                "la station {N} de l'autoroute est fermée",
                "{N} annonce des bénéfices record",
                "la pompe {N} a avalé ma carte"],
               ["le gazole a encore augmenté",
                "le lavage auto était en panne",
                "les actionnaires veulent un plan climat",
                "la file d'attente était interminable"]),
    },
    "sportswear": {
        "en": (["my new {N} trainers fell apart in a month",
                "{N} signed a new deal with a football club",
                "ran my first marathon in {N} shoes",
                "the {N} outlet has 40 percent off",
                "{N} results beat expectations",
                "{N} hoodie arrived in the wrong size",
                "the {N} kit for the new season looks clean",
                "{N} sponsors the national team again"],
               ["the sole came off after a few runs",
                "comfy for the gym and the track",
                "sizing runs small so order up",
                "the jersey fabric feels cheap",
                "sprinters wore them at the championships",
                "revenue grew in footwear",
                "the sneakers look sick with jeans",
                "delivery took two weeks"]),
        "de": (["meine {N} Laufschuhe sind super bequem",
                "{N} sponsert wieder die Nationalmannschaft",
                "{N} meldet starken Umsatz",
                "das {N} Trikot ist zu klein"],
               ["die Sohle löst sich schon",
                "perfekt fürs Training",
                "die Lieferung dauerte ewig",
                "der Schnitt fällt klein aus"]),
    },
    "care": {
        "en": (["{N} body wash leaves my skin so soft",
                "the new {N} deodorant smells amazing",
                "{N} campaign on real beauty made me cry",
                "{N} shampoo dried out my hair",
                "{N} soap is on offer at the chemist",
                "{N} recalled a dry shampoo batch",
                "switched to {N} moisturiser for sensitive skin",
                "{N} ads finally show normal bodies"],
               ["my skin feels hydrated all day",
                "the scent is subtle and fresh",
                "gave me a rash on my arms",
                "the bottle leaked in my bag",
                "great for sensitive skin",
                "the formula changed and I hate it",
                "unilever should listen to customers",
                "cheaper in the supermarket"]),
        "fr": (["le gel douche {N} sent tellement bon",
                "la pub {N} sur la beauté est touchante",
                "le déodorant {N} m'a irrité la peau",
                "{N} change encore sa formule"],
               ["ma peau est toute douce",
                "le flacon a fui dans mon sac",
                "parfait pour les peaux sensibles",
                "moins cher au supermarché"]),
    },
}

SENSE = {
    "river": {
        "en": (["the {N} flooded the farmland again",
                "kayaking through the {N} at sunrise",
                "sediment builds up where the {N} meets the sea",
                "fishing villages along the {N} are struggling",
                "the {N} rainforest is losing trees fast",
                "birds migrate across the {N} every spring"],
               ["the water level rose overnight",
                "the mangroves are stunning",
                "deforestation is getting worse",
                "we saw river dolphins",
                "the current was strong",
                "the wetlands are protected now"]),
        "es": (["el {N} se desbordó otra vez",
                "navegamos por el {N} al amanecer",
                "la selva del {N} pierde árboles"],
               ["el agua subió durante la noche",
                "vimos delfines rosados",
                "la deforestación empeora"]),
    },
    "goal": {
        "en": (["we missed our sales {N} by a mile",
                "hit my step {N} for the week",
                "the {N} audience for this campaign is teenagers",
                "the archer hit the {N} dead centre",
                "inflation is above the central bank {N}",
                "my savings {N} for this year is ambitious"],
               ["the board wants better numbers",
                "the bow was heavier than expected",
                "interest rates might rise",
                "motivation is everything",
                "the plan looks realistic",
                "rates stay high for now"]),
        "es": (["no llegamos al {N} de ventas",
                "el {N} de inflación del banco central",
                "cumplí mi {N} de pasos"],
               ["la junta quiere mejores cifras",
                "los tipos de interés suben",
                "la motivación lo es todo"]),
    },
    "fruit": {
        "en": (["squeezed an {N} into my tea",
                "this {N} cake recipe is perfect",
                "painted the bedroom wall {N}",
                "the sunset turned the sky bright {N}",
                "peeling an {N} on the train",
                "an {N} a day keeps me going"],
               ["the zest smells wonderful",
                "vitamin C for the win",
                "the colour is so warm",
                "sweet and juicy",
                "fresh from the market",
                "the marmalade is homemade"]),
        "fr": (["j'ai pressé une {N} ce matin",
                "le gâteau à l'{N} de ma grand-mère",
                "le ciel était {N} ce soir"],
               ["le zeste sent bon",
                "frais du marché",
                "sucré et juteux"]),
    },
    "animal": {
        "en": (["spotted a {N} on safari in the Pantanal",
                "the {N} at the zoo was sleeping all day",
                "a wild {N} was caught on a trail camera",
                "the {N} stalked its prey through the grass",
                "documentary about the {N} tonight",
                "the {N} cub was born at the sanctuary"],
               ["big cats are so majestic",
                "the rangers tracked it for days",
                "its spots are beautiful",
                "they are endangered in the wild",
                "the keeper fed it raw meat",
                "habitat loss threatens them"]),
        "de": (["im Zoo schlief der {N} den ganzen Tag",
                "ein wilder {N} in den Bergen gesichtet",
                "Doku über den {N} heute Abend"],
               ["Raubkatzen sind faszinierend",
                "sie sind vom Aussterben bedroht",
                "der Pfleger fütterte ihn"]),
    },
    "sea": {
        "en": (["found a perfect {N} on the beach",
                "the hermit crab moved into a bigger {N}",
                "my daughter collects every {N} she sees",
                "cracked the egg {N} into the bowl",
                "the turtle hid inside its {N}",
                "a {N} necklace from the market"],
               ["the tide was low this morning",
                "sand everywhere in the car",
                "the waves were calm",
                "the snails came out after the rain",
                "the seagulls stole our chips",
                "the rock pools were full of life"]),
        "fr": (["trouvé un beau {N} sur la plage",
                "un collier de {N} du marché",
                "le bernard-l'ermite a changé de {N}"],
               ["la marée était basse",
                "du sable partout",
                "les vagues étaient calmes"]),
    },
    "gap": {
        "en": (["there is a huge {N} in the fence",
                "the pay {N} between men and women persists",
                "mind the {N} between the train and the platform",
                "a {N} year before university was the best",
                "the skills {N} in tech keeps growing",
                "there is a {N} in my CV I need to explain"],
               ["the report says little has changed",
                "the dog escaped through it",
                "travelling taught me a lot",
                "employers want more training",
                "the station announcement repeats it",
                "recruiters ask about it"]),
        "fr": (["il y a un {N} entre les deux",
                "le {N} year en Australie",
                "combler le {N} de compétences"],
               ["le rapport ne change rien",
                "les recruteurs posent la question",
                "voyager m'a tout appris"]),
    },
    "weather": {
        "en": (["the {N} is so clear tonight, stars everywhere",
                "grey {N} all week, I miss the sun",
                "fireworks lit up the night {N}",
                "the {N} turned pink at dusk",
                "watched the {N} from the hilltop",
                "blue {N} and a cold breeze"],
               ["we saw the milky way",
                "rain is forecast again",
                "the clouds rolled in fast",
                "perfect weather for a walk",
                "the moon was huge",
                "sunset photos came out great"]),
        "de": (["der {N} ist heute so klar",
                "grauer {N} die ganze Woche",
                "Feuerwerk am {N} über der Stadt"],
               ["morgen soll es regnen",
                "die Sterne leuchten",
                "perfektes Wetter zum Wandern"]),
    },
    "bird": {
        "en": (["a white {N} landed on our balcony",
                "released a {N} at the wedding",
                "the {N} is a symbol of peace",
                "a mourning {N} nests in our gutter",
                "heard a {N} cooing at dawn",
                "painted a {N} with an olive branch"],
               ["the feathers were pure white",
                "birdwatching is my new hobby",
                "the chicks hatched last week",
                "the olive branch means hope",
                "the garden is full of birds",
                "its call is so calming"]),
        "fr": (["une {N} blanche sur le balcon",
                "la {N} symbole de paix",
                "une {N} roucoule chaque matin"],
               ["les plumes sont toutes blanches",
                "le jardin est plein d'oiseaux",
                "le rameau d'olivier"]),
    },
}

# Few, obvious context words per sector (what an analyst writes first);
# exclude phrases and negative context per other sense.
CONTEXT = {
    "airline": ["flight", "flights", "airline", "airport", "plane", "boarding", "crew", "baggage"],
    "retail": ["store", "shop", "order", "delivery", "refund", "checkout", "shopping"],
    "telecom": ["broadband", "wifi", "internet", "signal", "bill", "router", "mobile", "contract"],
    "car": ["car", "cars", "dealer", "dealership", "drive", "engine", "SUV", "EV"],
    "fuel": ["petrol", "fuel", "station", "pump", "diesel", "oil"],
    "sportswear": ["trainers", "shoes", "kit", "sneakers", "hoodie", "sponsor"],
    "care": ["soap", "shampoo", "skincare", "deodorant", "skin", "body wash"],
}
EXCLUDE = {
    "river": ["{n} river", "{n} rainforest"],
    "goal": ["sales {n}", "{n} audience"],
    "fruit": ["{n} juice", "{n} cake"],
    "animal": ["{n} cub", "wild {n}"],
    "sea": ["egg {n}", "{n} necklace"],
    "gap": ["pay {n}", "mind the {n}"],
    "weather": ["night {n}", "blue {n}"],
    "bird": ["white {n}", "mourning {n}"],
}
NEGATIVE = {
    "river": ["rainforest", "kayaking"],
    "goal": ["inflation", "archer"],
    "fruit": ["recipe", "sunset"],
    "animal": ["zoo", "safari"],
    "sea": ["beach", "turtle"],
    "gap": ["fence", "platform"],
    "weather": ["stars", "fireworks"],
    "bird": ["peace", "balcony"],
}


def watchlist():
    out = ["# The watchlist of the ambiguous-name set: a few context words per",
           "# brand, as an analyst would write them first (generated by gen.py).", ""]
    for name, sector, sense, handle, tag, _ in BRANDS:
        n = name.lower()
        ctx = CONTEXT[sector] + ["@" + handle, "#" + tag]
        out += ["[[brand]]",
                f'id = "{n}"',
                f'name = "{name}"',
                f'handles = ["{handle}"]',
                f'hashtags = ["{tag}"]',
                "context = [" + ", ".join(json.dumps(c) for c in ctx) + "]",
                "exclude = [" + ", ".join(json.dumps(x.format(n=n)) for x in EXCLUDE[sense]) + "]",
                "negative_context = [" + ", ".join(json.dumps(x) for x in NEGATIVE[sense]) + "]",
                ""]
    return "\n".join(out)


def post(rng, name, pools, lang, seen_only):
    named, plain = pools[lang]
    if seen_only:
        # Every fourth clause of each pool only ever appears in held-out
        # posts: the test half holds phrasings no training post has.
        named = [c for i, c in enumerate(named) if i % 4 != 3]
        plain = [c for i, c in enumerate(plain) if i % 4 != 3]
    parts = [rng.choice(named).replace("{N}", name)]
    parts += rng.sample(plain, rng.choice([1, 1, 2]))
    rng.shuffle(parts)
    return ", ".join(parts)


def draw(rng, per_brand, prefix, seen_only):
    """per_brand posts of each brand, 60 % about it, labelled."""
    rows = []
    for name, sector, sense, handle, tag, lang2 in BRANDS:
        n = name.lower()
        spools = SECTOR[sector]
        opools = SENSE[sense]
        for i in range(per_brand):
            about = i % 5 < 3
            pools = spools if about else opools
            lang = lang2 if (i % 4 == 3 and lang2 in pools) else "en"
            text = post(rng, name, pools, lang, seen_only)
            kind = rng.random()
            if about and kind < 0.25:
                # What the rules already catch: a listed context word,
                # the handle or the hashtag.
                extra = rng.choice(CONTEXT[sector] + ["@" + handle, "#" + tag])
                text = f"{text} {extra}" if extra[0] in "@#" else f"{text}, {extra}"
            rows.append({
                "id": f"{prefix}:{n}-{i:03d}",
                "text": text[0].upper() + text[1:],
                "labels": {"entities": [n] if about else []},
            })
    rng.shuffle(rows)
    return rows


def generate(seed):
    """The labelled set (20 posts a brand for training, 20 held out, whose
    clauses include some no training post has), and a stream of 150
    unlabelled posts a brand like those a store fills with (none with a
    held-out text)."""
    rng = random.Random(seed)
    train = draw(rng, 20, "train", True)
    test = draw(rng, 20, "test", False)
    held_out = {r["text"] for r in test}
    stream = [r for r in draw(rng, 150, "stream", True) if r["text"] not in held_out]
    return train, test, stream


def main():
    out = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    train, test, stream = generate(seed)
    with open(f"{out}/brands.toml", "w", encoding="utf-8") as f:
        f.write(watchlist())
    for name, rows in (("train", train), ("test", test)):
        with open(f"{out}/{name}.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(f"{out}/stream.jsonl", "w", encoding="utf-8") as f:
        for r in stream:
            p = {k: v for k, v in r.items() if k != "labels"}
            f.write(json.dumps(p, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
